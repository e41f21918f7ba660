import CoreMetrics
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Reservoir
import Synchronization

/// The coordinator of every consumer group that Kafka clients form over the protocol (Kafka's
/// classic group protocol): it holds each group's ``ClassicGroup`` and answers JoinGroup and
/// SyncGroup once the rebalance they wait for ends. Committed offsets are the store's, in
/// `__consumer_offsets`, shared with in-process groups of the same name; while a group has
/// members here, the store refuses in-process members for it (``Reservoir/claimGroup(_:for:)``).
final class KafkaGroupCoordinator: Sendable {
    /// Kafka's `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
    static let sessionTimeoutRange = 6000...1_800_000
    static let owner = "Kafka's protocol (reservoir serve)"

    private let store: Reservoir
    private let initialRebalanceDelayMs: Int
    private let logger: Logger
    private let groups = Mutex<[String: ClassicGroup]>([:])
    /// Member ids handed out with MEMBER_ID_REQUIRED, valid for one join until they expire.
    private let pendingMemberIds = Mutex<[String: UInt64]>([:])
    private let sweeper = Mutex<RepeatedTask?>(nil)
    /// The generation each group's metrics last saw, to count rebalances; sweeps since the last
    /// lag reading.
    private let observed = Mutex<(generations: [String: Int32], sweeps: Int)>(([:], 0))

    init(store: Reservoir, initialRebalanceDelayMs: Int, logger: Logger) {
        self.store = store
        self.initialRebalanceDelayMs = initialRebalanceDelayMs
        self.logger = logger
    }

    /// Starts the timer that expires sessions and ends rebalances whose time is up.
    func start(on loop: any EventLoop) {
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { [weak self] _ in
            self?.sweep()
        }
        sweeper.withLock { $0 = task }
    }

    func stop() {
        sweeper.withLock { $0?.cancel() }
        // Requests still waiting are answered; their connections are closing.
        let answers = groups.withLock { groups in
            var answers = ClassicGroup.Answers()
            for id in groups.keys {
                guard var group = groups[id] else { continue }
                answers.merge(group.leave(group.members.map(\.id), now: Self.now()).answers)
                store.releaseGroup(id)
            }
            groups.removeAll()
            return answers
        }
        answers.deliver()
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func sweep() {
        let now = Self.now()
        // Lag once a second: it reads every partition's end offset.
        let readLag = observed.withLock { observed in
            observed.sweeps += 1
            return observed.sweeps % 10 == 0
        }
        if readLag { recordLag(groupIds) }
        pendingMemberIds.withLock { pending in pending = pending.filter { $0.value > now } }
        let answers = groups.withLock { groups in
            var answers = ClassicGroup.Answers()
            for id in groups.keys {
                guard var group = groups[id] else { continue }
                let before = group.members.map(\.id)
                answers.merge(group.expire(now: now))
                let gone = Set(before).subtracting(group.members.map(\.id))
                if !gone.isEmpty {
                    logger.info("members left a group: session timed out", metadata: ["group": "\(id)", "members": "\(gone.sorted())"])
                }
                keep(group, in: &groups)
            }
            return answers
        }
        answers.deliver()
    }

    /// Keeps `group`, or forgets it (and releases the store's claim) once it has no members.
    private func keep(_ group: ClassicGroup, in groups: inout [String: ClassicGroup]) {
        if group.isEmpty && group.state == .empty {
            if groups.removeValue(forKey: group.id) != nil { store.releaseGroup(group.id) }
        } else {
            groups[group.id] = group
        }
        record(group)
    }

    // MARK: Metrics

    /// Members and completed rebalances of `group`.
    private func record(_ group: ClassicGroup) {
        Gauge(label: "reservoir_kafka_group_members", dimensions: [("group", group.id)]).record(group.members.count)
        let advanced = observed.withLock { observed -> Int32 in
            let previous = observed.generations[group.id] ?? 0
            if group.isEmpty && group.state == .empty {
                observed.generations.removeValue(forKey: group.id)
            } else {
                observed.generations[group.id] = group.generation
            }
            return group.generation - previous
        }
        if advanced > 0 {
            Counter(label: "reservoir_kafka_group_rebalances_total", dimensions: [("group", group.id)]).increment(by: Int64(advanced))
        }
    }

    /// The records each group with members here has yet to read, over its partitions (end offset
    /// minus committed offset).
    private func recordLag(_ ids: [String]) {
        for id in ids {
            guard let partitions = try? store.describeGroup(id) else { continue }
            Gauge(label: "reservoir_kafka_group_lag", dimensions: [("group", id)]).record(partitions.reduce(0) { $0 + $1.lag })
        }
    }

    // MARK: JoinGroup

    func join(_ request: JoinGroupRequest, version: Int16, clientId: String, clientHost: String) async -> JoinGroupResponse {
        guard !request.groupId.isEmpty else { return ClassicGroup.joinError(.invalidGroupId, memberId: request.memberId) }
        guard Self.sessionTimeoutRange.contains(Int(request.sessionTimeoutMs)) else {
            return ClassicGroup.joinError(.invalidSessionTimeout, memberId: request.memberId)
        }
        let now = Self.now()
        var memberId = request.memberId
        if memberId.isEmpty {
            memberId = "\(clientId.isEmpty ? "member" : clientId)-\(Self.uniqueSuffix())"
            // Since version 4 a new member first learns its id, then joins with it (KIP-394).
            if version >= 4 {
                pendingMemberIds.withLock { $0[memberId] = now &+ UInt64(request.sessionTimeoutMs) &* 1_000_000 }
                return ClassicGroup.joinError(.memberIdRequired, memberId: memberId)
            }
        } else {
            let known = groups.withLock { $0[request.groupId]?.member(memberId) != nil }
            let pending = pendingMemberIds.withLock { $0.removeValue(forKey: memberId) != nil }
            guard known || pending else { return ClassicGroup.joinError(.unknownMemberId, memberId: memberId) }
        }
        let member = ClassicGroup.Member(
            id: memberId, instanceId: request.groupInstanceId, clientId: clientId, clientHost: clientHost,
            sessionTimeoutMs: Int(request.sessionTimeoutMs),
            rebalanceTimeoutMs: Int(request.rebalanceTimeoutMs >= 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs),
            protocols: request.protocols.map { ($0.name, $0.metadata) },
            deadline: now &+ UInt64(request.sessionTimeoutMs) &* 1_000_000)
        let delay = initialRebalanceDelayMs
        return await withCheckedContinuation { waiter in
            let answers = groups.withLock { groups -> ClassicGroup.Answers in
                var answers = ClassicGroup.Answers()
                var group = groups[request.groupId] ?? ClassicGroup(id: request.groupId)
                guard group.accepts(type: request.protocolType, protocols: request.protocols.map(\.name)) else {
                    answers.joins.append((waiter, ClassicGroup.joinError(.inconsistentGroupProtocol, memberId: memberId)))
                    return answers
                }
                if group.isEmpty {
                    do throws(ReservoirError) {
                        try store.claimGroup(request.groupId, for: Self.owner)
                    } catch {
                        logger.warning("join refused", metadata: ["group": "\(request.groupId)", "reason": "\(error.message)"])
                        answers.joins.append((waiter, ClassicGroup.joinError(.inconsistentGroupProtocol, memberId: memberId)))
                        return answers
                    }
                }
                answers.merge(group.join(member, type: request.protocolType, waiter: waiter, now: now, initialDelayMs: delay))
                keep(group, in: &groups)
                return answers
            }
            answers.deliver()
        }
    }

    private static func uniqueSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(high, radix: 16) + String(low, radix: 16)
    }

    // MARK: SyncGroup, Heartbeat, LeaveGroup

    func sync(_ request: SyncGroupRequest) async -> SyncGroupResponse {
        let assignments = Dictionary(request.assignments.map { ($0.memberId, $0.assignment) }, uniquingKeysWith: { _, last in last })
        return await withCheckedContinuation { waiter in
            let answers = groups.withLock { groups -> ClassicGroup.Answers in
                guard var group = groups[request.groupId] else {
                    var answers = ClassicGroup.Answers()
                    answers.syncs.append((waiter, ClassicGroup.syncError(.unknownMemberId)))
                    return answers
                }
                if let type = request.protocolType, type != group.protocolType || request.protocolName != group.protocolName {
                    var answers = ClassicGroup.Answers()
                    answers.syncs.append((waiter, ClassicGroup.syncError(.inconsistentGroupProtocol)))
                    return answers
                }
                let answers = group.sync(
                    memberId: request.memberId, generation: request.generationId, assignments: assignments, waiter: waiter, now: Self.now())
                keep(group, in: &groups)
                return answers
            }
            answers.deliver()
        }
    }

    func heartbeat(_ request: HeartbeatRequest) -> HeartbeatResponse {
        var response = HeartbeatResponse()
        response.errorCode =
            groups.withLock { groups in
                guard var group = groups[request.groupId] else { return KafkaErrorCode.unknownMemberId }
                let code = group.heartbeat(memberId: request.memberId, generation: request.generationId, now: Self.now())
                groups[request.groupId] = group
                return code
            }.rawValue
        return response
    }

    func leave(_ request: LeaveGroupRequest, version: Int16) -> LeaveGroupResponse {
        let ids = version >= 3 ? request.members.map(\.memberId) : [request.memberId]
        let (codes, answers) = groups.withLock { groups -> ([KafkaErrorCode], ClassicGroup.Answers) in
            guard var group = groups[request.groupId] else { return (ids.map { _ in .unknownMemberId }, ClassicGroup.Answers()) }
            let result = group.leave(ids, now: Self.now())
            keep(group, in: &groups)
            return result
        }
        answers.deliver()
        var response = LeaveGroupResponse()
        if version >= 3 {
            response.members = zip(request.members, codes).map { member, code in
                var entry = LeaveGroupResponse.MemberResponse()
                entry.memberId = member.memberId
                entry.groupInstanceId = member.groupInstanceId
                entry.errorCode = code.rawValue
                return entry
            }
        } else {
            response.errorCode = codes.first?.rawValue ?? 0
        }
        return response
    }

    // MARK: Offsets and administration

    /// Whether a commit by `memberId` in `generation` may go ahead (no group here: a consumer
    /// that assigns itself partitions, committing with generation -1).
    func commitAllowed(group: String, memberId: String, generation: Int32) -> KafkaErrorCode {
        groups.withLock { groups in
            guard let group = groups[group] else { return generation < 0 ? .none : .illegalGeneration }
            return group.commitAllowed(memberId: memberId, generation: generation)
        }
    }

    /// A snapshot of `group`, if it has members here.
    func group(_ id: String) -> ClassicGroup? { groups.withLock { $0[id] } }

    var groupIds: [String] { groups.withLock { Array($0.keys) } }
}
