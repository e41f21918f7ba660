/// One consumer group of Kafka's classic group protocol, as its coordinator holds it: members,
/// generation, the chosen protocol and leader, and the requests waiting for a rebalance to end.
///
/// A JoinGroup moves the group to PreparingRebalance; once every member has joined again (or the
/// rebalance timeout passed, and members that did not are dropped) the generation advances, the
/// leader gets every member's subscription and the group awaits the leader's SyncGroup
/// (CompletingRebalance); the leader's assignments then answer every SyncGroup (Stable). A member
/// that neither heartbeats nor joins within its session timeout is removed, which starts the next
/// rebalance; the others learn of it from their heartbeats (REBALANCE_IN_PROGRESS).
///
/// The type is plain state: ``KafkaGroupCoordinator`` holds it under a lock and resumes the
/// waiting requests this type hands back (``Answers``) after releasing it.
struct ClassicGroup {
    enum State: String {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
    }

    struct Member {
        let id: String
        var instanceId: String?
        var clientId: String
        var clientHost: String
        var sessionTimeoutMs: Int
        var rebalanceTimeoutMs: Int
        var protocols: [(name: String, metadata: [UInt8])]
        var assignment: [UInt8] = []
        /// When the member is dropped unless it heartbeats, joins or syncs (monotonic ns).
        var deadline: UInt64
        var joinWaiter: CheckedContinuation<JoinGroupResponse, Never>?
        var syncWaiter: CheckedContinuation<SyncGroupResponse, Never>?

        func metadata(for protocolName: String?) -> [UInt8] {
            protocols.first { $0.name == protocolName }?.metadata ?? []
        }
    }

    /// Requests to answer once the coordinator's lock is released.
    struct Answers {
        var joins: [(CheckedContinuation<JoinGroupResponse, Never>, JoinGroupResponse)] = []
        var syncs: [(CheckedContinuation<SyncGroupResponse, Never>, SyncGroupResponse)] = []

        mutating func merge(_ other: Answers) {
            joins += other.joins
            syncs += other.syncs
        }

        func deliver() {
            for (waiter, response) in joins { waiter.resume(returning: response) }
            for (waiter, response) in syncs { waiter.resume(returning: response) }
        }
    }

    let id: String
    private(set) var state = State.empty
    private(set) var generation: Int32 = 0
    private(set) var protocolType: String?
    private(set) var protocolName: String?
    private(set) var leader: String?
    /// Members in join order.
    private(set) var members: [Member] = []
    /// When a rebalance in progress completes even if members have not joined again.
    private var rebalanceDeadline: UInt64 = 0
    /// The first rebalance of an empty group, which waits out its delay for more members.
    private var initialRebalance = false

    init(id: String) { self.id = id }

    var isEmpty: Bool { members.isEmpty }

    func member(_ id: String) -> Member? { members.first { $0.id == id } }

    private func index(of id: String) -> Int? { members.firstIndex { $0.id == id } }

    /// Whether a member with `protocols` of `type` fits the group: same type, and a protocol in
    /// common with every member.
    func accepts(type: String, protocols: [String]) -> Bool {
        guard !members.isEmpty else { return !protocols.isEmpty }
        guard type == protocolType else { return false }
        return members.allSatisfy { member in member.protocols.contains { protocols.contains($0.name) } }
    }

    // MARK: Join

    /// Adds or updates a member waiting in JoinGroup and starts (or continues) a rebalance.
    mutating func join(
        _ member: Member, type: String, waiter: CheckedContinuation<JoinGroupResponse, Never>, now: UInt64, initialDelayMs: Int
    ) -> Answers {
        var answers = Answers()
        var member = member
        member.joinWaiter = waiter
        if let existing = index(of: member.id) {
            // A member joining twice: the earlier request is superseded.
            if let earlier = members[existing].joinWaiter {
                answers.joins.append((earlier, Self.joinError(.unknownMemberId, memberId: member.id)))
            }
            member.assignment = members[existing].assignment
            members[existing] = member
        } else {
            members.append(member)
        }
        protocolType = type
        if state == .empty {
            // The first member waits a moment for others starting with it (Kafka's
            // group.initial.rebalance.delay.ms), so that they form one generation.
            answers.merge(prepareRebalance(now: now))
            initialRebalance = initialDelayMs > 0
            rebalanceDeadline = now &+ UInt64(max(initialDelayMs, 0)) &* 1_000_000
        } else {
            answers.merge(prepareRebalance(now: now))
        }
        if !initialRebalance && members.allSatisfy({ $0.joinWaiter != nil }) { answers.merge(completeRebalance()) }
        return answers
    }

    /// Moves to PreparingRebalance: members waiting in SyncGroup are told to join again.
    private mutating func prepareRebalance(now: UInt64) -> Answers {
        var answers = Answers()
        if state == .completingRebalance {
            for index in members.indices {
                if let waiter = members[index].syncWaiter {
                    answers.syncs.append((waiter, Self.syncError(.rebalanceInProgress)))
                    members[index].syncWaiter = nil
                }
            }
        }
        if state != .preparingRebalance {
            state = .preparingRebalance
            let timeout = members.map(\.rebalanceTimeoutMs).max() ?? 0
            rebalanceDeadline = now &+ UInt64(max(timeout, 0)) &* 1_000_000
        }
        return answers
    }

    /// Ends PreparingRebalance: members that did not join again are dropped; the others get the
    /// new generation, the leader every member's subscription.
    private mutating func completeRebalance() -> Answers {
        var answers = Answers()
        initialRebalance = false
        members.removeAll { $0.joinWaiter == nil }
        guard !members.isEmpty else {
            state = .empty
            generation += 1
            protocolName = nil
            leader = nil
            return answers
        }
        generation += 1
        if leader == nil || member(leader ?? "") == nil { leader = members.first?.id }
        // The leader's most preferred protocol that every member supports.
        let leaderProtocols = member(leader ?? "")?.protocols.map(\.name) ?? []
        protocolName = leaderProtocols.first { name in members.allSatisfy { $0.protocols.contains { $0.name == name } } }
        state = .completingRebalance
        let roster = members.map { member in
            var entry = JoinGroupResponse.JoinGroupResponseMember()
            entry.memberId = member.id
            entry.groupInstanceId = member.instanceId
            entry.metadata = member.metadata(for: protocolName)
            return entry
        }
        for index in members.indices {
            guard let waiter = members[index].joinWaiter else { continue }
            members[index].joinWaiter = nil
            var response = JoinGroupResponse()
            response.generationId = generation
            response.protocolType = protocolType
            response.protocolName = protocolName
            response.leader = leader ?? ""
            response.memberId = members[index].id
            response.members = members[index].id == leader ? roster : []
            answers.joins.append((waiter, response))
        }
        return answers
    }

    // MARK: Sync, heartbeat, leave

    /// A SyncGroup: the leader's assignments end the rebalance; a follower waits for them.
    mutating func sync(
        memberId: String, generation: Int32, assignments: [String: [UInt8]], waiter: CheckedContinuation<SyncGroupResponse, Never>,
        now: UInt64
    ) -> Answers {
        var answers = Answers()
        guard let position = index(of: memberId) else {
            answers.syncs.append((waiter, Self.syncError(.unknownMemberId)))
            return answers
        }
        guard generation == self.generation else {
            answers.syncs.append((waiter, Self.syncError(.illegalGeneration)))
            return answers
        }
        members[position].deadline = now &+ UInt64(members[position].sessionTimeoutMs) &* 1_000_000
        switch state {
        case .empty, .preparingRebalance:
            answers.syncs.append((waiter, Self.syncError(.rebalanceInProgress)))
        case .stable:
            answers.syncs.append((waiter, syncAnswer(members[position])))
        case .completingRebalance:
            members[position].syncWaiter = waiter
            if memberId == leader {
                for index in members.indices { members[index].assignment = assignments[members[index].id] ?? [] }
                state = .stable
                for index in members.indices {
                    if let waiting = members[index].syncWaiter {
                        answers.syncs.append((waiting, syncAnswer(members[index])))
                        members[index].syncWaiter = nil
                    }
                }
            }
        }
        return answers
    }

    private func syncAnswer(_ member: Member) -> SyncGroupResponse {
        var response = SyncGroupResponse()
        response.protocolType = protocolType
        response.protocolName = protocolName
        response.assignment = member.assignment
        return response
    }

    /// A heartbeat: the member's session is renewed; a rebalance in progress says to join again.
    mutating func heartbeat(memberId: String, generation: Int32, now: UInt64) -> KafkaErrorCode {
        guard let position = index(of: memberId) else { return .unknownMemberId }
        members[position].deadline = now &+ UInt64(members[position].sessionTimeoutMs) &* 1_000_000
        if state == .preparingRebalance { return .rebalanceInProgress }
        guard generation == self.generation else { return .illegalGeneration }
        return .none
    }

    /// Whether an offset commit by `memberId` in `generation` may go ahead.
    func commitAllowed(memberId: String, generation: Int32) -> KafkaErrorCode {
        // A consumer that assigns itself partitions commits without a generation: only while the
        // group has no members of its own.
        if generation < 0 && memberId.isEmpty { return members.isEmpty ? .none : .illegalGeneration }
        guard member(memberId) != nil else { return .unknownMemberId }
        guard generation == self.generation else { return .illegalGeneration }
        return state == .completingRebalance ? .rebalanceInProgress : .none
    }

    /// Members leave (LeaveGroup); the others rebalance.
    mutating func leave(_ ids: [String], now: UInt64) -> (codes: [KafkaErrorCode], answers: Answers) {
        var answers = Answers()
        var codes: [KafkaErrorCode] = []
        for id in ids {
            guard let position = index(of: id) else {
                codes.append(.unknownMemberId)
                continue
            }
            answers.merge(remove(at: position))
            codes.append(.none)
        }
        if codes.contains(.none) { answers.merge(membersChanged(now: now)) }
        return (codes, answers)
    }

    /// Drops members whose session ran out and completes a rebalance whose time is up.
    mutating func expire(now: UInt64) -> Answers {
        var answers = Answers()
        var removed = false
        // A member waiting in JoinGroup is alive until the rebalance ends.
        while let position = members.firstIndex(where: { $0.joinWaiter == nil && $0.deadline <= now }) {
            answers.merge(remove(at: position))
            removed = true
        }
        if removed { answers.merge(membersChanged(now: now)) }
        if state == .preparingRebalance && rebalanceDeadline <= now { answers.merge(completeRebalance()) }
        return answers
    }

    private mutating func remove(at position: Int) -> Answers {
        var answers = Answers()
        let member = members.remove(at: position)
        if let waiter = member.joinWaiter { answers.joins.append((waiter, Self.joinError(.unknownMemberId, memberId: member.id))) }
        if let waiter = member.syncWaiter { answers.syncs.append((waiter, Self.syncError(.unknownMemberId))) }
        if member.id == leader { leader = nil }
        return answers
    }

    /// After members left: an empty group is Empty; others rebalance.
    private mutating func membersChanged(now: UInt64) -> Answers {
        guard !members.isEmpty else {
            var answers = Answers()
            if state == .preparingRebalance { answers.merge(completeRebalance()) }
            state = .empty
            protocolName = nil
            leader = nil
            return answers
        }
        var answers = prepareRebalance(now: now)
        if !initialRebalance && members.allSatisfy({ $0.joinWaiter != nil }) { answers.merge(completeRebalance()) }
        return answers
    }

    static func joinError(_ code: KafkaErrorCode, memberId: String = "") -> JoinGroupResponse {
        var response = JoinGroupResponse()
        response.errorCode = code.rawValue
        response.memberId = memberId
        return response
    }

    static func syncError(_ code: KafkaErrorCode) -> SyncGroupResponse {
        var response = SyncGroupResponse()
        response.errorCode = code.rawValue
        return response
    }
}
