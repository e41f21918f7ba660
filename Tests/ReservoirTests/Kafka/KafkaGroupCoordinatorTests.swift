import Logging
import MetricsTestKit
import Testing
@testable import Reservoir
@testable import ReservoirKafka

/// The classic group protocol's coordinator, driven request by request.
@Suite("Kafka group coordinator: generations, leaders, rebalances, and groups shared with the store")
struct KafkaGroupCoordinatorTests {
    static func join(
        _ coordinator: KafkaGroupCoordinator, _ group: String, member: String = "", version: Int16 = 3, type: String = "consumer",
        protocols: [String] = ["range"]
    ) async -> JoinGroupResponse {
        var request = JoinGroupRequest()
        request.groupId = group
        request.memberId = member
        request.sessionTimeoutMs = 10_000
        request.rebalanceTimeoutMs = 10_000
        request.protocolType = type
        request.protocols = protocols.map { name in
            var entry = JoinGroupRequest.JoinGroupRequestProtocol()
            entry.name = name
            entry.metadata = Array(name.utf8)
            return entry
        }
        return await coordinator.join(request, version: version, clientId: "test", clientHost: "/127.0.0.1")
    }

    static func sync(
        _ coordinator: KafkaGroupCoordinator, _ group: String, member: String, generation: Int32, assignments: [String: [UInt8]] = [:]
    ) async -> SyncGroupResponse {
        var request = SyncGroupRequest()
        request.groupId = group
        request.memberId = member
        request.generationId = generation
        request.assignments = assignments.map { id, bytes in
            var entry = SyncGroupRequest.SyncGroupRequestAssignment()
            entry.memberId = id
            entry.assignment = bytes
            return entry
        }
        return await coordinator.sync(request)
    }

    static func heartbeat(_ coordinator: KafkaGroupCoordinator, _ group: String, member: String, generation: Int32) -> Int16 {
        var request = HeartbeatRequest()
        request.groupId = group
        request.memberId = member
        request.generationId = generation
        return coordinator.heartbeat(request).errorCode
    }

    @Test("a new member learns its id first (v4+), then joins; two members rebalance; the leader's assignments reach both")
    func rebalance() async throws {
        let metrics = testMetrics
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let coordinator = KafkaGroupCoordinator(store: store, initialRebalanceDelayMs: 0, logger: Logger(label: "test"))
        defer { coordinator.stop() }

        let required = await Self.join(coordinator, "g", version: 5)
        #expect(required.errorCode == KafkaErrorCode.memberIdRequired.rawValue && !required.memberId.isEmpty)
        #expect(await Self.join(coordinator, "g", member: "made-up", version: 5).errorCode == KafkaErrorCode.unknownMemberId.rawValue)
        let first = await Self.join(coordinator, "g", member: required.memberId, version: 5)
        #expect(first.errorCode == 0 && first.generationId == 1 && first.leader == required.memberId)
        #expect(first.members.map(\.memberId) == [required.memberId] && first.protocolName == "range")
        let one = first.memberId
        #expect(await Self.sync(coordinator, "g", member: one, generation: 1, assignments: [one: [1]]).assignment == [1])
        #expect(Self.heartbeat(coordinator, "g", member: one, generation: 1) == 0)

        // A second member: the first hears of the rebalance from its heartbeat and joins again.
        async let second = Self.join(coordinator, "g")
        var code: Int16 = 0
        while code != KafkaErrorCode.rebalanceInProgress.rawValue {
            try await Task.sleep(for: .milliseconds(10))
            code = Self.heartbeat(coordinator, "g", member: one, generation: 1)
        }
        let rejoined = await Self.join(coordinator, "g", member: one)
        let joined = await second
        #expect(rejoined.generationId == 2 && joined.generationId == 2)
        #expect(rejoined.leader == one && Set(rejoined.members.map(\.memberId)) == [one, joined.memberId])
        #expect(joined.members.isEmpty)
        let two = joined.memberId

        // The follower waits for the leader's assignments.
        async let followerSync = Self.sync(coordinator, "g", member: two, generation: 2)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await Self.sync(coordinator, "g", member: one, generation: 2, assignments: [one: [1], two: [2]]).assignment == [1])
        #expect(await followerSync.assignment == [2])
        #expect(coordinator.group("g")?.state == .stable)

        #expect(Self.heartbeat(coordinator, "g", member: two, generation: 1) == KafkaErrorCode.illegalGeneration.rawValue)
        #expect(Self.heartbeat(coordinator, "g", member: two, generation: 2) == 0)
        #expect(coordinator.commitAllowed(group: "g", memberId: two, generation: 1) == .illegalGeneration)
        #expect(coordinator.commitAllowed(group: "g", memberId: two, generation: 2) == .none)
        #expect(coordinator.commitAllowed(group: "g", memberId: "", generation: -1) == .illegalGeneration)
        // Two members, two rebalances completed.
        #expect(try metrics.expectGauge("reservoir_kafka_group_members", [("group", "g")]).lastValue == 2)
        #expect(try metrics.expectCounter("reservoir_kafka_group_rebalances_total", [("group", "g")]).totalValue == 2)
        // A member of another protocol type does not fit.
        #expect(await Self.join(coordinator, "g", type: "connect").errorCode == KafkaErrorCode.inconsistentGroupProtocol.rawValue)
    }

    @Test("a group has members in this process or through Kafka's protocol, never both at once")
    func sharedWithTheStore() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t")
        let coordinator = KafkaGroupCoordinator(store: store, initialRebalanceDelayMs: 0, logger: Logger(label: "test"))
        defer { coordinator.stop() }

        let local = try store.consumer(
            group: "local", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        #expect(await Self.join(coordinator, "local").errorCode == KafkaErrorCode.inconsistentGroupProtocol.rawValue)
        try local.close()
        #expect(await Self.join(coordinator, "local").errorCode == 0)

        let remote = await Self.join(coordinator, "remote")
        #expect(remote.errorCode == 0)
        #expect {
            try store.consumer(
                group: "remote", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        } throws: { error in
            (error as? ReservoirError)?.message.contains("Kafka's protocol") == true
        }
        #expect(throws: ReservoirError.self) { try store.deleteGroup("remote") }
        var leave = LeaveGroupRequest()
        leave.groupId = "remote"
        leave.memberId = remote.memberId
        #expect(coordinator.leave(leave, version: 1).errorCode == 0)
        #expect(coordinator.group("remote") == nil)
        // Gone from the protocol side, the group is the store's again.
        try store.consumer(group: "remote", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
            .close()
    }
}
