import Synchronization

/// The consumer groups of a store: their live members (in this process) and the assignment of
/// partitions to them. Every join and leave rebalances the group: members losing partitions
/// commit their positions first, then members gaining them start from the committed offsets.
final class GroupCoordinator: Sendable {
    /// Members, held weakly: a member its owner let go of leaves the group from its deinit.
    private let members = Mutex<[String: [Membership]]>([:])

    /// A member as the coordinator holds it.
    struct Membership: Sendable {
        let id: String
        weak var member: GroupConsumer?
    }
    private let sequence = Atomic<Int>(0)
    /// Groups whose members are elsewhere (Kafka clients of a server on this store), by owner.
    private let claims = Mutex<[String: String]>([:])

    /// Reserves `group` for members that are not in-process (see ``Reservoir/claimGroup(_:for:)``).
    func claim(_ group: String, for owner: String) throws(ReservoirError) {
        try members.withLock { (members) throws(ReservoirError) in
            guard members[group]?.isEmpty ?? true else {
                throw ReservoirError(
                    .invalidArgument, "consumer group \(group) has members in this process: it cannot also have members through \(owner)")
            }
            try claims.withLock { (claims) throws(ReservoirError) in
                if let holder = claims[group], holder != owner {
                    throw ReservoirError(.invalidArgument, "consumer group \(group) has members through \(holder)")
                }
                claims[group] = owner
            }
        }
    }

    func release(_ group: String) { _ = claims.withLock { $0.removeValue(forKey: group) } }

    /// Who holds `group`'s members elsewhere, if anyone.
    func claimant(of group: String) -> String? { claims.withLock { $0[group] } }

    func nextMemberID(group: String) -> String {
        let number = sequence.wrappingAdd(1, ordering: .relaxed).newValue
        let digits = String(number)
        return "\(group)-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Live members of `group`, in join order.
    func members(of group: String) -> [GroupConsumer] { members.withLock { ($0[group] ?? []).compactMap(\.member) } }

    /// Groups with live members.
    var activeGroups: [String] {
        members.withLock { $0.filter { $0.value.contains { $0.member != nil } }.keys.sorted() }
    }

    /// Every live member, for the session-timeout sweep.
    var allMembers: [GroupConsumer] { members.withLock { $0.values.flatMap { $0.compactMap(\.member) } } }

    func join(_ member: GroupConsumer, partitionCounts: [String: Int]) throws(ReservoirError) {
        // Checked under the members' lock, which `claim` holds too: one or the other wins.
        try rebalance(
            member.group, partitionCounts: partitionCounts,
            check: { () throws(ReservoirError) in
                if let holder = self.claimant(of: member.group) {
                    throw ReservoirError(
                        .invalidArgument,
                        "consumer group \(member.group) has members through \(holder): use another group name in this process")
                }
            }
        ) { $0.append(Membership(id: member.memberID, member: member)) }
    }

    func leave(_ member: GroupConsumer, partitionCounts: [String: Int]) throws(ReservoirError) {
        try leave(memberID: member.memberID, group: member.group, partitionCounts: partitionCounts)
    }

    /// Takes a silent member out of the group: its partitions are revoked (its handed-out
    /// positions committed) before the others get them.
    func evict(_ member: GroupConsumer, partitionCounts: [String: Int]) throws(ReservoirError) {
        let revoked = Mutex<Set<TopicPartition>>([])
        try rebalance(
            member.group, partitionCounts: partitionCounts,
            check: { () throws(ReservoirError) in
                let assigned = member.currentAssignment
                revoked.withLock { $0 = assigned }
                try member.revoke(assigned)
            }
        ) { list in list.removeAll { $0.id == member.memberID } }
        let partitions = revoked.withLock { $0 }
        if !partitions.isEmpty { member.deliver(.revoked(partitions.sorted())) }
    }

    /// Removes the member `memberID` (which may be gone already: a member leaving from its deinit).
    func leave(memberID: String, group: String, partitionCounts: [String: Int]) throws(ReservoirError) {
        try rebalance(group, partitionCounts: partitionCounts) { list in list.removeAll { $0.id == memberID } }
    }

    /// Removes every member (the store is closing); their positions are committed as they leave.
    func closeAll() -> [GroupConsumer] {
        members.withLock { members in
            let all = members.values.flatMap { $0.compactMap(\.member) }
            members.removeAll()
            return all
        }
    }

    private func rebalance(
        _ group: String, partitionCounts: [String: Int], check: (() throws(ReservoirError) -> Void)? = nil,
        change: (inout [Membership]) -> Void
    ) throws(ReservoirError) {
        var notifications: [(GroupConsumer, RebalanceEvent)] = []
        try members.withLock { (all) throws(ReservoirError) in
            try check?()
            var memberships = all[group] ?? []
            change(&memberships)
            // Members let go of without leaving (their deinit runs their leave next) drop out here.
            memberships.removeAll { $0.member == nil }
            all[group] = memberships.isEmpty ? nil : memberships
            let list = memberships.compactMap(\.member)
            let strategy = list.first?.options.assignment ?? .range
            let plan = Self.assign(
                members: list.map { ($0.memberID, Set($0.topics)) }, partitionCounts: partitionCounts, strategy: strategy)
            // Revocations first (they commit), then assignments (they read the commits).
            for member in list {
                let revoked = member.currentAssignment.subtracting(plan[member.memberID] ?? [])
                if !revoked.isEmpty {
                    try member.revoke(revoked)
                    notifications.append((member, .revoked(revoked.sorted())))
                }
            }
            for member in list {
                let added = (plan[member.memberID] ?? []).subtracting(member.currentAssignment)
                if !added.isEmpty {
                    try member.assign(added)
                    notifications.append((member, .assigned(added.sorted())))
                }
            }
        }
        for (member, event) in notifications { member.deliver(event) }
    }

    /// The partitions each member gets.
    static func assign(
        members: [(id: String, topics: Set<String>)], partitionCounts: [String: Int], strategy: AssignmentStrategy
    ) -> [String: Set<TopicPartition>] {
        var plan: [String: Set<TopicPartition>] = [:]
        let sorted = members.sorted { $0.id < $1.id }
        switch strategy {
        case .range:
            for topic in partitionCounts.keys.sorted() {
                let subscribers = sorted.filter { $0.topics.contains(topic) }
                guard !subscribers.isEmpty, let count = partitionCounts[topic] else { continue }
                let each = count / subscribers.count
                let extra = count % subscribers.count
                var next = 0
                for (index, member) in subscribers.enumerated() {
                    let take = each + (index < extra ? 1 : 0)
                    for partition in next..<(next + take) { plan[member.id, default: []].insert(TopicPartition(topic, partition)) }
                    next += take
                }
            }
        case .roundRobin:
            var turn = 0
            for topic in partitionCounts.keys.sorted() {
                for partition in 0..<(partitionCounts[topic] ?? 0) {
                    let subscribers = sorted.filter { $0.topics.contains(topic) }
                    guard !subscribers.isEmpty else { break }
                    // The next member in turn that reads this topic.
                    var chosen = sorted[turn % sorted.count]
                    while !chosen.topics.contains(topic) {
                        turn += 1
                        chosen = sorted[turn % sorted.count]
                    }
                    plan[chosen.id, default: []].insert(TopicPartition(topic, partition))
                    turn += 1
                }
            }
        }
        return plan
    }
}
