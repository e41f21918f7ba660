import Foundation
import Testing
@testable import Reservoir

@Suite("Retention: time, size, log start, time-based roll")
struct RetentionTests {
    static let hour: Int64 = 3_600_000

    /// 40 batches of 10 records over 4 KiB segments; records below `oldBefore` are two hours old.
    private func fill(_ store: Reservoir, topic: String, config: TopicConfig, oldBefore: Int, total: Int = 400) throws -> Int64 {
        try store.createTopic(topic, config: config)
        let now = wallClockMilliseconds()
        for start in stride(from: 0, to: total, by: 10) {
            try store.append(
                to: topic, records: records(start..<start + 10, size: 40) { $0 < oldBefore ? now - 2 * Self.hour : now }, acks: .buffered)
        }
        return now
    }

    private var smallSegments: TopicConfig {
        TopicConfig(
            segmentBytes: 4096, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096,
            retentionMs: Self.hour, fileDeleteDelayMs: 0)
    }

    @Test("by time: old segments go, from the oldest, and the log start is checkpointed")
    func byTime() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            _ = try fill(store, topic: "t", config: smallSegments, oldBefore: 200)
            let log = try store.log(topic: "t", partition: 0)
            let before = log.segments
            let report = try store.maintain()
            // Exactly the segments whose newest record is old.
            let expectedGone = before.dropLast().prefix { $0.nextOffset <= 200 }
            #expect(report.partitions.first?.retention.segments == expectedGone.count)
            #expect(report.recordsRemovedByRetention == Int(expectedGone.last?.nextOffset ?? 0))
            #expect(report.bytesRemovedByRetention == expectedGone.reduce(0) { $0 + $1.bytes })
            let start = expectedGone.last?.nextOffset ?? 0
            #expect(log.startOffset == start)
            #expect(log.segments.first?.baseOffset == start)
            #expect(try allRecords(log).map(\.offset) == Array(start..<400))
            #expect(throws: ReservoirError.self) { try log.read(from: start - 1) }
            try store.close()
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.startOffset > 0)
        #expect(try allRecords(log).first?.offset == log.startOffset)
        #expect(!fileNames(dir + "/topics/t/0").contains { $0.hasSuffix(".deleted") })
    }

    @Test("never the active segment, even when every record is old")
    func neverActive() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        _ = try fill(store, topic: "t", config: smallSegments, oldBefore: 400)
        let log = try store.log(topic: "t", partition: 0)
        let active = try #require(log.segments.last)
        try store.maintain()
        #expect(log.segments == [active])
        #expect(log.startOffset == active.baseOffset)
        #expect(try allRecords(log).map(\.offset) == Array(active.baseOffset..<400))
        // Appends go on after the others are gone.
        try store.append(to: "t", records: records(0..<5), acks: .durable)
        #expect(log.endOffset == 405)
    }

    @Test("by size: the oldest segments go while the partition is over retentionBytes")
    func bySize() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        var config = smallSegments
        config.retentionMs = -1
        config.retentionBytes = 10_000
        _ = try fill(store, topic: "t", config: config, oldBefore: 0)
        let log = try store.log(topic: "t", partition: 0)
        let before = log.segments
        var excess = before.reduce(0) { $0 + $1.bytes } - 10_000
        var expected = 0
        while expected < before.count - 1 && excess - before[expected].bytes >= 0 {
            excess -= before[expected].bytes
            expected += 1
        }
        #expect(expected > 0)
        let report = try store.maintain()
        #expect(report.partitions.first?.retention.segments == expected)
        #expect(log.segments == Array(before[expected...]))
        #expect(log.sizeInBytes <= 10_000 + before.map(\.bytes).max()!)
        #expect(try store.maintain().partitions.isEmpty)
    }

    @Test("deleteRecords moves the log start into a segment and deletes the segments below it")
    func deleteRecords() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            var config = smallSegments
            config.retentionMs = -1
            _ = try fill(store, topic: "t", config: config, oldBefore: 0)
            let log = try store.log(topic: "t", partition: 0)
            let segments = log.segments
            let target = segments[2].baseOffset + 3
            let removal = try store.deleteRecords(topic: "t", partition: 0, before: target)
            #expect(removal.segments == 2)
            #expect(log.startOffset == target)
            #expect(log.segments.first == segments[2])
            #expect(throws: ReservoirError.self) { try log.read(from: target - 1) }
            #expect(try log.read(from: target).records().first?.offset == target)
            #expect(try allRecords(log).map(\.offset) == Array(target..<400))
            #expect(throws: ReservoirError.self) { try store.deleteRecords(topic: "t", partition: 0, before: 401) }
            try store.close()
        }
        // The log start survives a crash too: it is checkpointed when it moves.
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        #expect(try allRecords(log).first?.offset == log.startOffset)
        #expect(log.startOffset == CheckpointFile(path: dir + "/log-start-offset-checkpoint").read()?.first?.offset)
    }

    @Test("a reader holding batches of a deleted segment reads them to the end")
    func readerOutlivesDeletion() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        _ = try fill(store, topic: "t", config: smallSegments, oldBefore: 400)
        let log = try store.log(topic: "t", partition: 0)
        let held = try log.read(from: 0, maxBytes: 4096)
        let heldSegment = SegmentFiles(directory: dir + "/topics/t/0", baseOffset: 0)
        try store.maintain()
        // Renamed at once, removed after the (zero) delay on the maintenance thread.
        let deadline = Date().addingTimeInterval(5)
        while FileSystem.exists(heldSegment.log + ".deleted") && Date() < deadline { usleep(1000) }
        #expect(!FileSystem.exists(heldSegment.log))
        #expect(!FileSystem.exists(heldSegment.log + ".deleted"))
        let got = try held.records()
        #expect(got.map(\.offset) == Array(0..<Int64(got.count)))
        #expect(got.map(\.value) == records(0..<got.count, size: 40).map(\.value))
    }

    @Test("segmentMs rolls an idle active segment so that retention can reach it")
    func timeRoll() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(segmentMs: 60_000, retentionMs: Self.hour, fileDeleteDelayMs: 0))
        let now = wallClockMilliseconds()
        try store.append(to: "t", records: records(0..<50) { _ in now - 2 * Self.hour }, acks: .buffered)
        let log = try store.log(topic: "t", partition: 0)
        #expect(try store.maintain().partitions.isEmpty)
        #expect(log.segments.count == 1)
        let later = try store.maintain(now: now + 61_000)
        #expect(later.partitions.first?.rolled == true)
        // Rolled and, its records being old, deleted in the same pass.
        #expect(later.partitions.first?.retention.records == 50)
        #expect(log.segments.count == 1)
        #expect(log.startOffset == 50)
        #expect(log.endOffset == 50)
    }
}
