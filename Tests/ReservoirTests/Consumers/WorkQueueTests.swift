import Foundation
import Synchronization
import Testing
@testable import Reservoir

@Suite("Work queues: exclusive delivery, acks, lock expiry, release, reject, dead letters, state")
struct WorkQueueTests {
    private func store(_ dir: String, partitions: Int = 3) throws -> Reservoir {
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        if !store.topicNames.contains("jobs") {
            try store.createTopic("jobs", config: TopicConfig(partitions: partitions))
            try store.createTopic("dead", config: TopicConfig())
        }
        return store
    }

    private func produce(_ store: Reservoir, _ range: Range<Int>) throws {
        try store.append(
            to: "jobs",
            records: range.map {
                Record(key: Array("job-\($0)".utf8), value: Array("payload-\($0)".utf8), headers: [RecordHeader("origin", "test")])
            }, acks: .buffered)
    }

    @Test("concurrent consumers never hold the same record at once; each record is acknowledged exactly once")
    func exclusiveDelivery() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        try produce(store, 0..<900)
        // Locks that outlast any stall of a loaded machine: this test is about exclusivity, not expiry.
        let queue = try store.queue(
            group: "workers", topic: "jobs", options: QueueOptions(lockMilliseconds: patientSessionMilliseconds, prefetch: 7))
        let ledger = Ledger()
        try await withDeadline {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let queue = try store.queue(
                            group: "workers", topic: "jobs",
                            options: QueueOptions(lockMilliseconds: patientSessionMilliseconds, prefetch: 7))
                        for try await delivery in queue {
                            let key = "\(delivery.record.partition)-\(delivery.record.offset)"
                            ledger.hold(key)
                            await Task.yield()
                            ledger.release(key)
                            try delivery.ack()
                            if ledger.acked(key) >= 900 { break }
                            if ledger.total >= 900 { break }
                        }
                    }
                }
                while ledger.total < 900 { try await Task.sleep(nanoseconds: 1_000_000) }
                group.cancelAll()
                try await group.waitForAll()
            }
        }
        #expect(ledger.overlaps == 0)
        #expect(ledger.counts.count == 900)
        #expect(ledger.counts.values.allSatisfy { $0 == 1 })
        #expect(queue.status.acknowledged == 900)
        #expect(queue.status.inFlight == 0)
        #expect(try queue.poll().isEmpty)
    }

    @Test("an expired lock makes the record available again; the stale delivery cannot settle")
    func lockExpiry() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        try produce(store, 0..<1)
        let queue = try store.queue(group: "g", topic: "jobs", options: QueueOptions(lockMilliseconds: 1500))
        let first = try queue.poll(max: 1)
        #expect(first.map(\.record.offset) == [0] && first.first?.deliveryCount == 1)
        #expect(try queue.poll(max: 1).isEmpty)
        // A waiting consumer is woken when the lock runs out.
        let again = try await withDeadline { try await queue.take(max: 1) }
        #expect(again.map(\.record.offset) == [0])
        #expect(again.first?.deliveryCount == 2)
        // On a machine too busy to acknowledge within the lock, the redelivery's lock runs out as
        // well and the record comes once more: each later delivery counts higher, and one ack
        // lands in time.
        var current = again
        var acknowledged = false
        for _ in 0..<5 where !acknowledged {
            do {
                try current[0].ack()
                acknowledged = true
            } catch {
                let count = current[0].deliveryCount
                current = try await withDeadline { try await queue.take(max: 1) }
                #expect(current.first?.deliveryCount == count + 1)
            }
        }
        #expect(acknowledged)
        // The first delivery's lock ran out: it cannot settle the record.
        #expect(throws: ReservoirError.self) { try first[0].ack() }
        try produce(store, 1..<3)
        #expect(try queue.poll(max: 5).map(\.record.offset) == [1, 2])
    }

    @Test("release redelivers at once, reject never; the delivery limit archives and dead-letters")
    func releaseRejectDeadLetter() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        try produce(store, 0..<3)
        let queue = try store.queue(group: "g", topic: "jobs", options: QueueOptions(maxDeliveries: 2, deadLetterTopic: "dead"))
        // Offset 0: released twice, then it is archived and dead-lettered.
        var taken = try queue.poll(max: 1)
        try taken[0].release()
        taken = try queue.poll(max: 1)
        #expect(taken.map(\.record.offset) == [0] && taken[0].deliveryCount == 2)
        try taken[0].release()
        // Offset 1: rejected.
        taken = try queue.poll(max: 1)
        #expect(taken.map(\.record.offset) == [1])
        try taken[0].reject()
        // Only offset 2 is left.
        let rest = try queue.poll(max: 10)
        #expect(rest.map(\.record.offset) == [2])
        try queue.ack(rest)
        #expect(try queue.poll(max: 10).isEmpty)
        let status = queue.status
        #expect(status.acknowledged == 1 && status.archived == 2 && status.deadLettered == 2 && status.inFlight == 0)
        let dead = try allRecords(store.log(topic: "dead", partition: 0))
        #expect(dead.map(\.value) == [Array("payload-0".utf8), Array("payload-1".utf8)])
        let headers = Dictionary(
            dead[0].headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) }, uniquingKeysWith: { a, _ in a })
        #expect(headers["origin"] == "test")
        #expect(headers["reservoir.dlq.topic"] == "jobs" && headers["reservoir.dlq.offset"] == "0")
        #expect(headers["reservoir.dlq.deliveries"] == "2" && headers["reservoir.dlq.reason"] == "max-deliveries")
        #expect(dead[1].headers.contains(RecordHeader("reservoir.dlq.reason", "rejected")))
    }

    @Test("state survives reopen: acknowledged records stay done, the others come back with their delivery count")
    func stateSurvivesReopen() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try store(dir, partitions: 1)
            try produce(store, 0..<10)
            let queue = try store.queue(group: "g", topic: "jobs")
            let taken = try queue.poll(max: 6)
            try queue.ack([taken[0], taken[1], taken[3]])
            // 2, 4 and 5 are held when the store goes away without settling them.
            try store.close()
        }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        let queue = try store.queue(group: "g", topic: "jobs")
        let again = try queue.poll(max: 20)
        #expect(again.map(\.record.offset) == [2, 4, 5, 6, 7, 8, 9])
        #expect(again.map(\.deliveryCount) == [2, 2, 2, 1, 1, 1, 1])
        #expect(queue.status.acknowledged == 3)
    }

    @Test("peek shows what the next take gets, counting no delivery; works read-only beside the writer")
    func peek() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        try produce(store, 0..<5)
        let queue = try store.queue(group: "g", topic: "jobs")
        func peeked(_ max: Int) throws -> [String] { try queue.peek(max: max).map { "\($0.record.offset):\($0.deliveryCount)" } }
        #expect(try peeked(3) == ["0:0", "1:0", "2:0"])
        #expect(try peeked(3) == ["0:0", "1:0", "2:0"])
        let taken = try queue.poll(max: 2)
        #expect(taken.map(\.deliveryCount) == [1, 1])
        #expect(try peeked(10) == ["2:0", "3:0", "4:0"])
        try queue.release(taken)
        #expect(try peeked(10) == ["0:1", "1:1", "2:0", "3:0", "4:0"])

        // Another process's view: read-only, from the state the writer persisted.
        let reader = try Reservoir.openReadOnly(at: dir, visibility: .written)
        defer { try? reader.close() }
        let looking = try reader.queue(group: "g", topic: "jobs")
        #expect(try looking.peek(max: 2).map(\.record.offset) == [0, 1])
        #expect(throws: ReservoirError.self) { try looking.poll(max: 1) }
        #expect(try peeked(10) == ["0:1", "1:1", "2:0", "3:0", "4:0"])
    }

    @Test("the dead-letter topic is created on first use with the source's partitions; other options for an open queue are an error")
    func deadLetterTopicAndOptions() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 3)
        defer { try? store.close() }
        let options = QueueOptions(maxDeliveries: 1, deadLetterTopic: "jobs-dlq")
        let queue = try store.queue(group: "g", topic: "jobs", options: options)
        #expect(try store.topic("jobs-dlq").config.partitions == 3)
        #expect(try store.queue(group: "g", topic: "jobs", options: options) === queue)
        #expect {
            try store.queue(group: "g", topic: "jobs", options: QueueOptions(maxDeliveries: 3, deadLetterTopic: "jobs-dlq"))
        } throws: { error in
            (error as? ReservoirError)?.code == .invalidArgument
                && (error as? ReservoirError)?.message.contains("already open in this process with other options") == true
        }
        try produce(store, 0..<3)
        try queue.reject(try queue.poll(max: 3))
        #expect(queue.status.deadLettered == 3)
        let copied = try (0..<3).flatMap { try allRecords(store.log(topic: "jobs-dlq", partition: $0)) }
        #expect(Set(copied.map { String(decoding: $0.value ?? [], as: UTF8.self) }) == ["payload-0", "payload-1", "payload-2"])
    }

    @Test("the in-flight limit caps what one partition hands out")
    func inFlightLimit() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        try produce(store, 0..<50)
        let queue = try store.queue(group: "g", topic: "jobs", options: QueueOptions(maxInFlightPerPartition: 10))
        let first = try queue.poll(max: 100)
        #expect(first.map(\.record.offset) == Array(0..<10))
        #expect(try queue.poll(max: 100).isEmpty)
        try queue.ack(Array(first.prefix(4)))
        #expect(try queue.poll(max: 100).map(\.record.offset) == Array(10..<14))
    }

    @Test("the internal state topics stay small: compaction keeps one record per key")
    func stateTopicsCompact() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        try produce(store, 0..<6000)
        let queue = try store.queue(group: "g", topic: "jobs")
        let member = try store.consumer(
            group: "c", topics: ["jobs"], options: ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: patientSessionMilliseconds))
        // Small segments, so that a short run fills several.
        for name in [QueueStateStore.topic, OffsetStore.topic] {
            try store.alterTopicSettings(
                name, settings: [("segmentBytes", "65536"), ("maxBatchBytes", "65536"), ("maxRecordBytes", "4096")])
        }
        for _ in 0..<1000 { try queue.ack(try queue.poll(max: 6)) }
        var count = 0
        for try await _ in member.records {
            count += 1
            if count % 2 == 0 { try member.commitSync() }
            if count == 6000 { break }
        }
        let states = try store.log(topic: QueueStateStore.topic, partition: 0)
        let offsets = try store.log(topic: OffsetStore.topic, partition: 0)
        #expect(states.segments.count > 1 && offsets.segments.count > 1)
        try waitForRolledSegmentsDurable(states)
        try waitForRolledSegmentsDurable(offsets)
        try store.maintain()
        // What is left outside the active segment: one record per key.
        #expect(try allRecords(states).count <= 1 + states.segments.last!.nextOffset - states.segments.last!.baseOffset)
        #expect(states.sizeInBytes < 65536 + 4096)
        #expect(offsets.sizeInBytes < 65536 + 4096)
        #expect(store.describeGroupCommitted("c", TopicPartition("jobs", 0)) == 6000)
    }
}

/// Tracks which records are held and how often each was acknowledged, across tasks.
final class Ledger: Sendable {
    private let state = Mutex<(held: Set<String>, counts: [String: Int], overlaps: Int, total: Int)>(([], [:], 0, 0))

    func hold(_ key: String) {
        state.withLock { if !$0.held.insert(key).inserted { $0.overlaps += 1 } }
    }

    func release(_ key: String) { state.withLock { _ = $0.held.remove(key) } }

    /// Counts an acknowledgement; returns the total so far.
    func acked(_ key: String) -> Int {
        state.withLock {
            $0.counts[key, default: 0] += 1
            $0.total += 1
            return $0.total
        }
    }

    var total: Int { state.withLock { $0.total } }
    var overlaps: Int { state.withLock { $0.overlaps } }
    var counts: [String: Int] { state.withLock { $0.counts } }
}

@Suite("Lifetimes")
struct LifetimeTests {
    @Test("a closed store is freed with its logs, whatever consumers and queues it had")
    func closedStoreIsFreed() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        weak var weakStore: Reservoir?
        weak var weakLog: PartitionLog?
        do {
            let store = try Reservoir.open(at: dir)  // background maintenance on, as by default
            weakStore = store
            try store.createTopic("f", config: TopicConfig(partitions: 2))
            try store.append(to: "f", records: [Record(key: nil, value: [1])], acks: .buffered)
            weakLog = try store.log(topic: "f", partition: 0)
            let member = try store.consumer(
                group: "g", topics: ["f"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
            _ = try member.poll()
            try member.close()
            // Left open: the store's close ends it.
            let open = try store.consumer(
                group: "h", topics: ["f"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
            let queue = try store.queue(group: "q", topic: "f")
            try queue.ack(try queue.poll())
            _ = try store.reader(topic: "f", partition: 1)
            try withExtendedLifetime(open) { try store.close() }
        }
        #expect(weakStore == nil)
        #expect(weakLog == nil)
    }
}

extension LifetimeTests {
    @Test("a pending flush timer does not keep a closed store's logs alive (found by the fuzzer)")
    func fuzzSequenceFreesStore() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        weak var weakStore: Reservoir?
        weak var weakStateLog: PartitionLog?
        do {
            let store = try Reservoir.open(at: dir)
            weakStore = store
            try store.createTopic("f", config: TopicConfig(partitions: 2))
            try store.append(to: "f", records: [Record(key: nil, value: [1, 2, 3])], acks: .buffered)
            try store.consumer(group: "g", topics: ["f"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
                .close()
            _ = try store.queue(group: "q", topic: "f")
            let record = Record(key: [], value: [0xc2])
            for topic in ["__consumer_offsets", "__queue_state"] {
                try store.appendRecords(
                    to: topic, records: [record, Record(key: [0xc2], value: [0xc2])], partition: 0, acks: .buffered, caller: .store)
            }
            // The internal topics flush on a timer: a pending timer must not keep their log alive.
            weakStateLog = try store.log(topic: "__queue_state", partition: 0)
            try store.close()
        }
        #expect(weakStore == nil)
        usleep(50_000)  // the I/O threads let go of themselves as they end
        #expect(weakStateLog == nil)
    }
}
