import Foundation
import Synchronization
import Testing
@testable import Reservoir

@Suite("Consumer groups: assignment, delivery, rebalance, committed offsets, lag")
struct ConsumerGroupTests {
    private func store(_ dir: String, partitions: Int = 6) throws -> Reservoir {
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        if !store.topicNames.contains("orders") {
            try store.createTopic("orders", config: TopicConfig(partitions: partitions))
        }
        return store
    }

    /// 600 keyed records spread over the partitions.
    private func produce(_ store: Reservoir, _ range: Range<Int> = 0..<600) throws {
        try store.append(
            to: "orders", records: range.map { Record(key: Array("user-\($0)".utf8), value: Array("order-\($0)".utf8)) },
            acks: .buffered)
    }

    /// Takes records from `member` until `count` were taken.
    private func take(_ member: GroupConsumer, _ count: Int) async throws -> [ConsumerRecord] {
        var taken: [ConsumerRecord] = []
        guard count > 0 else { return [] }
        for try await record in member.records {
            taken.append(record)
            if taken.count == count { break }
        }
        return taken
    }

    @Test("the session sweep: a member that read after the sweep's clock reading is not silent; one quiet past its timeout is")
    func sessionSweepClock() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        let sweepStarted = monotonicNanoseconds()
        let member = try store.consumer(group: "g", topics: ["orders"])  // active from now, after the sweep's reading
        #expect(!member.isSilent(now: sweepStarted))
        #expect(!member.isSilent(now: monotonicNanoseconds()))
        #expect(member.isSilent(now: monotonicNanoseconds() + timerNanoseconds(milliseconds: 46_000)))
        try member.close()
    }

    @Test("two groups each receive every record")
    func everyGroupSeesEverything() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        try produce(store)
        let billing = try store.consumer(
            group: "billing", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        let shipping = try store.consumer(
            group: "shipping", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        #expect(billing.assignment.count == 6 && shipping.assignment.count == 6)
        let a = try await withDeadline { try await self.take(billing, 600) }
        let b = try await withDeadline { try await self.take(shipping, 600) }
        #expect(Set(a.map(\.valueString)) == Set((0..<600).map { "order-\($0)" }))
        #expect(Set(b.map(\.valueString)) == Set((0..<600).map { "order-\($0)" }))
    }

    @Test("three members share six partitions; every record is delivered exactly once")
    func shareAndDeliverOnce() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir)
        defer { try? store.close() }
        let members = try (0..<3).map { _ in
            try store.consumer(
                group: "g", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        }
        let assignments = members.map(\.assignment)
        #expect(assignments.map(\.count) == [2, 2, 2])
        #expect(Set(assignments.flatMap { $0 }).count == 6)
        try produce(store)
        let tally = Tally()
        try await withDeadline {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for member in members {
                    group.addTask {
                        for try await record in member.records {
                            // Each record comes from a partition this member owns.
                            #expect(member.assignment.contains(TopicPartition(record.topic, record.partition)))
                            if tally.count(record.valueString ?? "") >= 600 { break }
                        }
                    }
                }
                // Members stop when all 600 are in: close them to end the other iterations.
                while tally.total < 600 { try await Task.sleep(nanoseconds: 1_000_000) }
                for member in members { try member.close() }
                try await group.waitForAll()
            }
        }
        let counts = tally.counts
        #expect(counts.count == 600)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test("a member leaving gives its partitions to the others, from its committed position")
    func leaveRebalances() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 4)
        defer { try? store.close() }
        try produce(store, 0..<400)
        let events = Mutex<[RebalanceEvent]>([])
        let first = try store.consumer(
            group: "g", topics: ["orders"],
            options: ConsumerOptions(
                commit: .manual, onRebalance: { event in events.withLock { $0.append(event) } },
                sessionTimeoutMilliseconds: patientSessionMilliseconds))
        #expect(first.assignment.count == 4)
        let second = try store.consumer(
            group: "g", topics: ["orders"],
            options: ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: patientSessionMilliseconds))
        #expect(first.assignment.count == 2 && second.assignment.count == 2)
        #expect(events.withLock { $0 } == [.assigned((0..<4).map { TopicPartition("orders", $0) }), .revoked(second.assignment)])
        // The second reads some records, commits, and leaves.
        let read = try await withDeadline { try await self.take(second, 50) }
        try await second.commit()
        let committed = Dictionary(grouping: read, by: { TopicPartition($0.topic, $0.partition) }).mapValues { $0.map(\.offset).max()! + 1 }
        try second.close()
        #expect(first.assignment.count == 4)
        #expect(
            events.withLock { $0.last }
                == .assigned(committed.keys.sorted().isEmpty ? [] : [TopicPartition("orders", 2), TopicPartition("orders", 3)]))
        // The first now reads those partitions from where the second committed: nothing it read comes back.
        let rest = try await withDeadline { try await self.take(first, 350) }
        let readKeys = Set(read.map { "\($0.partition)-\($0.offset)" })
        #expect(rest.allSatisfy { !readKeys.contains("\($0.partition)-\($0.offset)") })
        #expect(Set(rest.map(\.valueString)).union(read.map(\.valueString)).count == 400)
        for (partition, offset) in committed {
            #expect(store.describeGroupCommitted("g", partition) == offset)
        }
    }

    @Test("a member let go of without close() commits and leaves: the others get its partitions at once")
    func droppedMemberLeaves() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 4)
        defer { try? store.close() }
        try produce(store, 0..<400)
        let first = try store.consumer(
            group: "g", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        var handedOut: [TopicPartition: Int64] = [:]
        do {
            let second = try store.consumer(
                group: "g", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
            #expect(first.assignment.count == 2 && second.assignment.count == 2)
            for record in try second.poll(maxRecords: 30) { handedOut[TopicPartition(record.topic, record.partition)] = record.offset + 1 }
            #expect(!handedOut.isEmpty)
            // `second` goes out of scope here, as when a loop over its records throws.
        }
        #expect(first.assignment.count == 4)
        #expect(Set(try store.describeGroup("g").compactMap(\.member)) == [first.memberID])
        for (partition, next) in handedOut { #expect(store.describeGroupCommitted("g", partition) == next) }
    }

    @Test(
        "a member silent past its session timeout loses its partitions, then joins again when it reads; waiting for records is not silence")
    func sessionTimeout() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try store(dir, partitions: 2)
        defer { try? store.close() }
        let options = ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: 1500)
        let waiting = try store.consumer(group: "g", topics: ["orders"], options: options)
        let silent = try store.consumer(group: "g", topics: ["orders"], options: options)
        #expect(waiting.assignment.count == 1 && silent.assignment.count == 1)
        // One member waits for records at the end of the (empty) log; the other does nothing.
        let reader = Task { try await self.take(waiting, 1) }
        var waited = 0
        while silent.assignment.count == 1 && waited < 100 {
            try await Task.sleep(nanoseconds: 100_000_000)
            waited += 1
        }
        #expect(silent.assignment.isEmpty)
        #expect(waiting.assignment.count == 2)
        // Past the timeout the waiting member still has both.
        try await Task.sleep(nanoseconds: 2_000_000_000)
        #expect(waiting.assignment.count == 2)
        // The silent member reads again: it joins, and the partitions are shared again.
        _ = try silent.poll()
        #expect(silent.assignment.count == 1 && waiting.assignment.count == 1)
        try produce(store, 0..<100)
        #expect(try await withDeadline { try await reader.value }.count == 1)
    }

    @Test("committed offsets survive close; lag is exact; reset and delete")
    func committedOffsetsPersist() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try store(dir, partitions: 2)
            try produce(store, 0..<100)
            let member = try store.consumer(
                group: "g", topics: ["orders"],
                options: ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: patientSessionMilliseconds))
            let read = try await withDeadline { try await self.take(member, 30) }
            try await member.commit()
            let lag = member.lag()
            let ends = try (0..<2).map { try store.log(topic: "orders", partition: $0).endOffset }
            for (partition, value) in lag {
                let next = read.filter { $0.partition == partition.partition }.map(\.offset).max().map { $0 + 1 } ?? 0
                #expect(value == ends[partition.partition] - next)
            }
            #expect(lag.values.reduce(0, +) == 70)
            try store.close()
        }
        let store = try store(dir, partitions: 2)
        defer { try? store.close() }
        #expect(store.consumerGroups == ["g"])
        let status = try store.describeGroup("g")
        #expect(status.map(\.lag).reduce(0, +) == 70)
        #expect(status.allSatisfy { $0.member == nil })
        // A new member resumes at the committed offsets.
        let member = try store.consumer(
            group: "g", topics: ["orders"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        let rest = try await withDeadline { try await self.take(member, 70) }
        #expect(Set(rest.map(\.valueString)).count == 70)
        try member.close()
        #expect(try store.describeGroup("g").map(\.lag).reduce(0, +) == 0)
        // Reset to earliest, then delete.
        try store.resetGroupOffsets(group: "g", topic: "orders", to: .earliest)
        #expect(try store.describeGroup("g").map(\.lag).reduce(0, +) == 100)
        try store.deleteGroup("g")
        #expect(store.consumerGroups.isEmpty)
        #expect(throws: ReservoirError.self) { try store.describeGroup("g") }
    }

    @Test("round-robin and range assignments")
    func assignments() {
        let members: [(id: String, topics: Set<String>)] = [("a", ["x", "y"]), ("b", ["x", "y"]), ("c", ["y"])]
        let range = GroupCoordinator.assign(members: members, partitionCounts: ["x": 3, "y": 4], strategy: .range)
        #expect(range["a"] == [TopicPartition("x", 0), TopicPartition("x", 1), TopicPartition("y", 0), TopicPartition("y", 1)])
        #expect(range["b"] == [TopicPartition("x", 2), TopicPartition("y", 2)])
        #expect(range["c"] == [TopicPartition("y", 3)])
        let robin = GroupCoordinator.assign(members: members, partitionCounts: ["x": 3, "y": 4], strategy: .roundRobin)
        #expect(Set(robin.values.flatMap { $0 }).count == 7)
        // As Kafka's RoundRobinAssignor: one circle over the members, skipping those not subscribed.
        #expect(robin["a"] == [TopicPartition("x", 0), TopicPartition("x", 2), TopicPartition("y", 2)])
        #expect(robin["b"] == [TopicPartition("x", 1), TopicPartition("y", 0), TopicPartition("y", 3)])
        #expect(robin["c"] == [TopicPartition("y", 1)])
    }
}

/// Counts deliveries from several tasks.
final class Tally: Sendable {
    private let state = Mutex<[String: Int]>([:])
    private let number = Atomic<Int>(0)

    /// Counts one delivery of `value`; returns the total so far.
    func count(_ value: String) -> Int {
        state.withLock { $0[value, default: 0] += 1 }
        return number.add(1, ordering: .relaxed).newValue
    }

    var total: Int { number.load(ordering: .relaxed) }
    var counts: [String: Int] { state.withLock { $0 } }
}

extension Reservoir {
    func describeGroupCommitted(_ group: String, _ partition: TopicPartition) -> Int64? {
        offsetStore.committed(group: group, partition: partition)?.offset
    }
}

extension ConsumerGroupTests {
    @Test("closing the store commits what auto-commit members handed out")
    func closeCommits() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try store(dir, partitions: 1)
            try produce(store, 0..<50)
            // A long interval: nothing is committed while reading.
            let member = try store.consumer(
                group: "g", topics: ["orders"],
                options: ConsumerOptions(
                    commit: .auto(intervalMilliseconds: 3_600_000), sessionTimeoutMilliseconds: patientSessionMilliseconds))
            _ = try await withDeadline { try await self.take(member, 20) }
            try store.close()
        }
        let store = try store(dir, partitions: 1)
        defer { try? store.close() }
        #expect(store.describeGroupCommitted("g", TopicPartition("orders", 0)) == 20)
    }

    @Test("seek moves a member's position; the events stream reports assignments; a waiting queue consumer wakes on append")
    func seekEventsAndQueueWake() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("orders", config: TopicConfig(partitions: 1))
        try await store.append(to: "orders", records: (0..<20).map { Record(key: nil, value: Array("v\($0)".utf8)) }, acks: .buffered)
        let member = try store.consumer(
            group: "g", topics: ["orders"],
            options: ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: patientSessionMilliseconds))
        var events = member.events.makeAsyncIterator()
        #expect(await events.next() == .assigned([TopicPartition("orders", 0)]))
        let partition = TopicPartition("orders", 0)
        try member.seek(partition, to: .offset(15))
        #expect(try member.poll(maxRecords: 3).map(\.offset) == [15, 16, 17])
        try member.seek(partition, to: .earliest)
        #expect(try member.poll(maxRecords: 2).map(\.offset) == [0, 1])
        try member.seek(partition, to: .latest)
        #expect(try member.poll().isEmpty)
        #expect(throws: ReservoirError.self) { try member.seek(TopicPartition("orders", 5), to: .earliest) }
        try member.close()

        let queue = try store.queue(group: "w", topic: "orders", options: QueueOptions(startAt: .latest))
        let waiting = Task { try await queue.take(max: 5) }
        try await Task.sleep(nanoseconds: 20_000_000)
        try await store.append(to: "orders", records: [Record(key: nil, value: Array("new".utf8))], acks: .buffered)
        let taken = try await withDeadline { try await waiting.value }
        #expect(taken.map(\.record.valueString) == ["new"])
    }
}
