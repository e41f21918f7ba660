import Foundation
import Synchronization
import Testing
@testable import Reservoir

/// Runs `body`, failing the test (and cancelling it) if it takes longer than `seconds`: a
/// guard against hangs, not a timing assertion. It is generous because on a loaded two-core machine the tests that
/// wait in Swift concurrency's pool may get no thread for many seconds.
func withDeadline<T: Sendable>(_ seconds: Double = 120, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw ReservoirError(.io, "timed out after \(seconds) s")
        }
        return value
    }
}

@Suite("Replay readers: start positions, waiting at the end, gaps, retention")
struct ReaderTests {
    private func store(_ dir: String, segmentBytes: Int = 4096, extra: (inout TopicConfig) -> Void = { _ in }) throws -> Reservoir {
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        var config = TopicConfig(
            segmentBytes: segmentBytes, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: segmentBytes,
            fileDeleteDelayMs: 0)
        extra(&config)
        try store.createTopic("t", config: config)
        return store
    }

    private func take(_ reader: PartitionReader, _ count: Int) async throws -> [ConsumerRecord] {
        var taken: [ConsumerRecord] = []
        for try await record in reader {
            taken.append(record)
            if taken.count == count { break }
        }
        return taken
    }

    @Test("every start position, across segment rolls")
    func startPositions() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        let base: Int64 = 1_764_000_000_000
        for start in stride(from: 0, to: 300, by: 10) {
            try await store.append(to: "t", records: records(start..<start + 10, size: 40) { base + Int64($0) * 10 }, acks: .buffered)
        }
        #expect(try store.log(topic: "t", partition: 0).segments.count > 3)
        let all = try await withDeadline { try await self.take(try store.reader(topic: "t", partition: 0, from: .earliest), 300) }
        #expect(all.map(\.offset) == Array(0..<300))
        #expect(all.map(\.value) == records(0..<300, size: 40).map(\.value))
        #expect(all[7].headers == [RecordHeader("h", "7")])
        let middle = try await withDeadline { try await self.take(try store.reader(topic: "t", partition: 0, from: .offset(123)), 5) }
        #expect(middle.map(\.offset) == Array(123..<128))
        // The first record at or after the time; between two records, the later one.
        let byTime = try await withDeadline {
            try await self.take(try store.reader(topic: "t", partition: 0, from: .timestamp(base + 1505)), 1)
        }
        #expect(byTime.first?.offset == 151)
        // .latest and a time after everything: nothing until the next append.
        let latest = try store.reader(topic: "t", partition: 0, from: .latest)
        let future = try store.reader(topic: "t", partition: 0, from: .timestamp(base + 10_000_000))
        let waiting = Task { try await self.take(latest, 1) }
        let waitingFuture = Task { try await self.take(future, 1) }
        try await Task.sleep(nanoseconds: 20_000_000)
        try await store.append(to: "t", records: records(300..<301), acks: .buffered)
        #expect(try await withDeadline { try await waiting.value }.map(\.offset) == [300])
        #expect(try await withDeadline { try await waitingFuture.value }.map(\.offset) == [300])
    }

    @Test("a reader waiting at the end wakes on the append that passes it, and on close")
    func wakesOnAppend() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        let reader = try store.reader(topic: "t", partition: 0)
        let received = Atomic<Int>(0)
        let consumer = Task {
            var offsets: [Int64] = []
            for try await record in reader {
                offsets.append(record.offset)
                received.add(1, ordering: .relaxed)
            }
            return offsets  // the sequence ends when the store closes
        }
        for round in 0..<5 {
            try await store.append(to: "t", records: records(round * 3..<round * 3 + 3), acks: .buffered)
            // The reader is woken by the append: no sleep, no poll interval in between.
            try await withDeadline {
                while received.load(ordering: .relaxed) < (round + 1) * 3 { await Task.yield() }
            }
        }
        try store.close()
        let offsets = try await withDeadline { try await consumer.value }
        #expect(offsets == Array(0..<15))
    }

    @Test("cancelling the task ends the sequence")
    func cancellation() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        let reader = try store.reader(topic: "t", partition: 0)
        let task = Task { try await self.take(reader, 1) }
        try await Task.sleep(nanoseconds: 10_000_000)
        task.cancel()
        #expect(try await withDeadline { try await task.value }.isEmpty)
    }

    @Test("durable isolation hands out only fsync'd records")
    func durableIsolation() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        try await store.append(to: "t", records: records(0..<5), acks: .durable)
        try await store.append(to: "t", records: records(5..<10), acks: .buffered)
        let reader = try store.reader(topic: "t", partition: 0, isolation: .durable)
        let task = Task { try await self.take(reader, 10) }
        try await Task.sleep(nanoseconds: 20_000_000)
        try store.log(topic: "t", partition: 0).flush()  // the flush wakes the durable reader
        #expect(try await withDeadline { try await task.value }.map(\.offset) == Array(0..<10))
    }

    @Test("reads across compaction gaps, and past offsets retention removed")
    func gapsAndRetention() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir) {
            $0.cleanup = [.compact, .delete]
            $0.retentionMs = -1
        }
        defer { try? store.close() }
        for start in stride(from: 0, to: 600, by: 10) {
            let batch = (start..<start + 10).map { Record(key: Array("k\($0 % 15)".utf8), value: Array("v\($0)".utf8)) }
            try await store.append(to: "t", records: batch, acks: .buffered)
        }
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        try store.maintain(ignoringDirtyRatio: true)
        let expected = try allRecords(log)
        #expect(expected.count < before.count)
        let replayed = try await withDeadline { try await self.take(try store.reader(topic: "t", partition: 0), expected.count) }
        #expect(replayed.map(\.logRecord) == expected)
        // A position that retention removed: an error, or a restart at the earliest offset.
        try store.deleteRecords(topic: "t", partition: 0, before: 500)
        await #expect(throws: ReservoirError.self) {
            try await withDeadline { try await self.take(try store.reader(topic: "t", partition: 0, from: .offset(10)), 1) }
        }
        let restarted = try await withDeadline {
            try await self.take(try store.reader(topic: "t", partition: 0, from: .offset(10), outOfRange: .restartAtEarliest), 1)
        }
        #expect(restarted.first?.offset == expected.first { $0.offset >= 500 }?.offset)
    }

    @Test("the batch variant hands out the raw batches")
    func batches() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir) { $0.compression = .lz4 }
        defer { try? store.close() }
        for start in stride(from: 0, to: 100, by: 10) {
            try await store.append(to: "t", records: records(start..<start + 10), acks: .buffered)
        }
        let batches = try await withDeadline {
            var taken: [RecordBatch] = []
            for try await batch in try store.reader(topic: "t", partition: 0).batches {
                taken.append(batch)
                if batch.nextOffset == 100 { break }
            }
            return taken
        }
        #expect(batches.map(\.baseOffset) == Array(stride(from: 0, to: 100, by: 10)))
        #expect(batches.allSatisfy { $0.header.compression == .lz4 })
    }
}
