import Foundation
import Testing
@testable import Reservoir

/// Timestamps, offsets and counts come from producers, callers and files: the extremes of their
/// ranges give answers, never a trap.
@Suite("Extreme values from records, callers and state files")
struct ExtremeValueTests {
    @Test("record timestamps at Int64.min and .max, and passes run at extreme times")
    func extremeTimestamps() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic(
            "t",
            config: TopicConfig(
                segmentBytes: 4096, maxRecordBytes: 1024, maxBatchBytes: 4096,
                cleanup: [.compact, .delete], retentionMs: 1000, deleteRetentionMs: .max,
                minCompactionLagMs: 1, maxCompactionLagMs: 1, fileDeleteDelayMs: .max))
        for round in 0..<60 {
            let time: Int64 = round % 2 == 0 ? .min : .max
            try store.append(
                to: "t", records: (0..<5).map { Record(key: Array("k\($0)".utf8), value: round % 3 == 0 ? nil : [1], timestamp: time) },
                acks: .buffered)
        }
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        for now: Int64 in [.min, 0, .max, wallClockMilliseconds()] {
            try store.maintain(ignoringDirtyRatio: true, now: now)
            _ = try log.rollIfDue(now: now)
        }
        // What is left still reads whole: the newest round's records are never compacted away.
        let left = try allRecords(log)
        #expect(!left.isEmpty)
        #expect(left.allSatisfy { $0.key != nil })
        #expect(Set(left.suffix(5).compactMap(\.key)) == Set((0..<5).map { Array("k\($0)".utf8) }))
        _ = try log.offset(forTimestamp: .min)
        _ = try log.offset(forTimestamp: .max)
    }

    @Test("a commit whose value does not decode deletes neither the commit before it nor, when compacted, its record")
    func undecodableCommitKeepsEarlierOne() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let partition = TopicPartition("t", 0)
        let kept = CommittedOffset(offset: 3, metadata: "m", commitTimestamp: 7)
        // A later value for the same key in a layout this version does not read (value version 9).
        let unreadable: [UInt8] = [0, 9, 0, 0, 0, 0, 0, 0, 0, 4]
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            try store.createTopic("t", config: TopicConfig(retentionMs: -1))
            try store.append(to: "t", records: (0..<5).map { Record(key: nil, value: [UInt8($0)]) }, acks: .buffered)
            try store.commitOffsets(group: "g", [partition: CommittedOffset(offset: 2, metadata: "", commitTimestamp: 6)], acks: .durable)
            try store.commitOffsets(group: "g", [partition: kept], acks: .durable)
            let record = Record(key: OffsetStore.encodeKey(group: "g", partition: partition), value: unreadable)
            try store.appendRecords(to: OffsetStore.topic, records: [record], partition: 0, acks: .buffered, caller: .store)
            // Compacted: the first commit goes, the one the table keeps and the unreadable one stay.
            let later = wallClockMilliseconds() + 30 * 86_400_000
            let offsets = try store.log(topic: OffsetStore.topic, partition: 0)
            #expect(try offsets.rollIfDue(now: later))
            // The rolled segment is cleanable once its fsync moved the recovery point past it.
            for _ in 0..<1000 where offsets.recoveryPoint < offsets.endOffset { usleep(2_000) }
            try store.maintain(topic: OffsetStore.topic, ignoringDirtyRatio: true, now: later)
            let left = try allRecords(offsets).map(\.value)
            #expect(left == [OffsetStore.encode(value: kept), unreadable], "\(left)")
            try store.close()
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        #expect(store.committedOffsets(group: "g") == [partition: kept])
        let member = try store.consumer(
            group: "g", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        defer { try? member.close() }
        #expect(try member.poll().map(\.offset) == [3, 4], "the group resumes at the commit it had, not at its reset position")
    }

    @Test("committed offsets and queue state far outside any log are ignored as damage")
    func damagedConsumerState() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            try store.createTopic("t")
            try store.append(to: "t", records: [Record(key: nil, value: [1]), Record(key: nil, value: [2])], acks: .buffered)
            try store.consumer(group: "g", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
                .close()
            _ = try store.queue(group: "q", topic: "t")
            let partition = TopicPartition("t", 0)
            let commit = OffsetStore.records(
                group: "g", commits: [partition: CommittedOffset(offset: .min, metadata: "", commitTimestamp: 0)])
            let state = Record(
                key: QueueStateStore.encodeKey(group: "q", partition: partition),
                value: QueueStateStore.encode(
                    QueueStateStore.Snapshot(
                        start: .max, runs: [.init(first: .min, last: .max, state: .available, deliveries: 3)],
                        acknowledged: .max, archived: .max, deadLettered: .max)))
            try store.appendRecords(to: OffsetStore.topic, records: commit, partition: 0, acks: .buffered, caller: .store)
            try store.appendRecords(to: QueueStateStore.topic, records: [state], partition: 0, acks: .buffered, caller: .store)
            try store.close()
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        // The damaged commit and snapshot were not loaded: the group and queue start over.
        #expect(store.describeGroupCommitted("g", TopicPartition("t", 0)) == nil)
        #expect(!store.consumerGroups.contains("g"))
        let member = try store.consumer(
            group: "g", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        #expect(try member.poll().map(\.offset) == [0, 1])
        try member.close()
        let queue = try store.queue(group: "q", topic: "t")
        #expect(try queue.poll().map(\.record.offset) == [0, 1])
    }
}
