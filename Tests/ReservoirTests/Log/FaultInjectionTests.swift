import Foundation
import Testing
@testable import Reservoir

/// Failures injected at the system-call seam (`SystemCall.inject`): each is a clear error,
/// nothing is acknowledged that is not stored, nothing acknowledged is lost, and the store opens
/// afterwards. Faults match paths inside each test's own directory, so tests run in parallel.
@Suite("Injected system-call failures: ENOSPC, EIO, short writes, failing fsync and rename")
struct FaultInjectionTests {
    func fault(_ operation: String, _ dir: String, _ errno: Int32, count: Int = 1, skip: Int = 0, shortWrite: Bool = false) {
        SystemCall.inject(.init(operation: operation, pathContaining: dir, errno: errno, count: count, skip: skip, shortWrite: shortWrite))
    }

    @Test("a write cut short by a full disk: the append fails, the partial batch is cut off, the next append and a reopen read exactly")
    func shortWrite() throws {
        let dir = temporaryDirectory()
        defer {
            SystemCall.clearFaults(pathContaining: dir)
            removeDirectory(dir)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        // No space prepared ahead: its thread extends the file on its own time, and the size
        // of the file is what this test reads to see the partial batch cut off.
        try store.createTopic("t", config: TopicConfig(preallocateBytes: -1))
        try store.append(to: "t", records: records(0..<10))
        let log = dir + "/topics/t/0/00000000000000000000.log"
        let size = try FileManager.default.attributesOfItem(atPath: log)[.size] as? Int
        fault("write", dir + "/topics/t/0/0", ENOSPC, shortWrite: true)
        let error = #expect(throws: ReservoirError.self) { try store.append(to: "t", records: records(10..<20)) }
        #expect(error?.errno == ENOSPC && error?.message.contains(log) == true)
        #expect(try FileManager.default.attributesOfItem(atPath: log)[.size] as? Int == size, "the partial batch stayed in the file")
        try store.append(to: "t", records: records(20..<30))
        let expected = (records(0..<10) + records(20..<30)).map(\.value)
        #expect(try allRecords(store.log(topic: "t", partition: 0)).map(\.value) == expected)
        try store.close()
        let reopened = try Reservoir.open(at: dir)
        #expect(try allRecords(reopened.log(topic: "t", partition: 0)).map(\.value) == expected)
        try reopened.close()
    }

    @Test("space that cannot be prepared ahead (ENOSPC on fallocate): appends grow the file instead, and every record reads back")
    func preallocationOnFullDisk() throws {
        let dir = temporaryDirectory()
        defer {
            SystemCall.clearFaults(pathContaining: dir)
            removeDirectory(dir)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        try store.createTopic("t", config: TopicConfig(segmentBytes: 64 << 20, preallocateBytes: 2 << 20))
        let log = dir + "/topics/t/0/00000000000000000000.log"
        fault("fallocate", log, ENOSPC, count: .max)
        for i in 0..<40 { try store.append(to: "t", records: records(i * 100..<(i + 1) * 100, size: 300), acks: .durable) }
        let logical = try store.log(topic: "t", partition: 0).sizeInBytes
        #expect(try FileManager.default.attributesOfItem(atPath: log)[.size] as? Int == logical, "nothing was prepared")
        #expect(try allRecords(store.log(topic: "t", partition: 0)).map(\.value) == records(0..<4000, size: 300).map(\.value))
        try store.close()
        let reopened = try Reservoir.open(at: dir)
        defer { try? reopened.close() }
        #expect(try allRecords(reopened.log(topic: "t", partition: 0)).map(\.value) == records(0..<4000, size: 300).map(\.value))
    }

    @Test("a failing fdatasync: the durable append fails, later ones are refused until reopen, every acknowledged record survives")
    func failingFsync() throws {
        let dir = temporaryDirectory()
        defer {
            SystemCall.clearFaults(pathContaining: dir)
            removeDirectory(dir)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        try store.createTopic("t")
        try store.append(to: "t", records: records(0..<10), acks: .durable)
        fault("fdatasync", dir + "/topics/t/0/", EIO)
        let error = #expect(throws: ReservoirError.self) { try store.append(to: "t", records: records(10..<20), acks: .durable) }
        #expect(error?.errno == EIO)
        // After a failed fsync the page cache may have dropped what it could not write: nothing
        // more is promised durable.
        #expect(throws: ReservoirError.self) { try store.append(to: "t", records: records(20..<30), acks: .durable) }
        try? store.close()
        let reopened = try Reservoir.open(at: dir)
        let values = try allRecords(reopened.log(topic: "t", partition: 0)).map(\.value)
        #expect(Array(values.prefix(10)) == records(0..<10).map(\.value))
        try reopened.append(to: "t", records: records(30..<31), acks: .durable)
        try reopened.close()
    }

    @Test("a checkpoint that cannot be made durable (EIO on its fsync): delete-records fails and deletes nothing")
    func failingCheckpointFsync() throws {
        let dir = temporaryDirectory()
        defer {
            SystemCall.clearFaults(pathContaining: dir)
            removeDirectory(dir)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        try store.createTopic("t", config: TopicConfig(segmentBytes: 4096))
        for i in 0..<20 { try store.append(to: "t", records: records(i * 10..<(i + 1) * 10, size: 100), acks: .buffered) }
        let all = try allRecords(store.log(topic: "t", partition: 0))
        try waitForRolledSegmentsDurable(store.log(topic: "t", partition: 0))
        // Every fsync of it fails while armed (the I/O thread writes it too, after a roll).
        fault("fsync", dir + "/log-start-offset-checkpoint", EIO, count: 1_000_000)
        #expect(throws: ReservoirError.self) { try store.deleteRecords(topic: "t", partition: 0, before: 100) }
        SystemCall.clearFaults(pathContaining: dir + "/log-start-offset-checkpoint")
        #expect(try store.log(topic: "t", partition: 0).startOffset == 0)
        #expect(try allRecords(store.log(topic: "t", partition: 0)) == all)
        try store.close()
        let reopened = try Reservoir.open(at: dir)
        #expect(try allRecords(reopened.log(topic: "t", partition: 0)) == all)
        try reopened.close()
    }

    @Test(
        "a rename failing at each step of the compaction swap: maintain fails, and the store holds the records before or after the clean",
        arguments: [0, 1, 5, 9, 12, 20, 30])
    func failingSwapRename(skip: Int) throws {
        let dir = temporaryDirectory()
        defer {
            SystemCall.clearFaults(pathContaining: dir)
            removeDirectory(dir)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        try store.createTopic("t", config: TopicConfig(segmentBytes: 2048, indexIntervalBytes: 256, cleanup: .compact))
        for start in stride(from: 0, to: 600, by: 10) {
            try store.append(
                to: "t", records: (start..<start + 10).map { Record(key: Array("k-\($0 % 20)".utf8), value: Array("v-\($0)".utf8)) },
                acks: .buffered)
        }
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        let after = compactedOracle(before, activeBase: try #require(log.segments.last).baseOffset)
        // The rename after `skip` others in the partition fails (.cleaned → .swap, old segments'
        // three files → .deleted, .swap → .log): each argument stops the swap at another step.
        fault("rename", dir + "/topics/t/0/", EIO, skip: skip)
        let failed = (try? store.maintain(topic: "t", retention: false, ignoringDirtyRatio: true)) == nil
        try? store.close()
        let stillArmed = SystemCall.fault("rename", dir + "/topics/t/0/") != nil
        SystemCall.clearFaults(pathContaining: dir)
        let reopened = try Reservoir.open(at: dir, options: onDemandMaintenance)
        let records = try allRecords(reopened.log(topic: "t", partition: 0))
        let damage = try reopened.log(topic: "t", partition: 0).damage
        #expect(
            records == before || records == after,
            "rename \(skip + 1) failed: \(failed), fault left unused: \(stillArmed); \(records.count) records (before \(before.count), after \(after.count)), offsets \(records.first?.offset ?? -1)...\(records.last?.offset ?? -1), damage \(damage)"
        )
        #expect(failed || stillArmed, "the maintenance succeeded although a rename failed")
        try reopened.close()
    }
}
