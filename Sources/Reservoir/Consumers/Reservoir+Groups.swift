import CoreMetrics
import Logging
import Synchronization

/// Consumer groups: members, committed offsets, and their administration.
extension Reservoir {
    /// Joins consumer group `group` as a new member reading `topics`; the group rebalances.
    ///
    /// - Throws: ``ReservoirError/Code/topicNotFound`` for a missing topic,
    ///   ``ReservoirError/Code/invalidArgument`` for an empty group name or topic list.
    public func consumer(group: String, topics: [String], options: ConsumerOptions = ConsumerOptions()) throws(ReservoirError)
        -> GroupConsumer
    {
        try checkNotReadOnly()
        try checkOpen()
        guard !group.isEmpty, group.utf8.count <= 255 else {
            throw ReservoirError(.invalidArgument, "a group name must have 1 to 255 bytes")
        }
        guard !topics.isEmpty else { throw ReservoirError(.invalidArgument, "a consumer needs at least one topic") }
        for topic in topics { _ = try self.topic(topic) }
        _ = try offsetsLog()
        let member = GroupConsumer(
            store: self, group: group, memberID: coordinator.nextMemberID(group: group),
            topics: Array(Set(topics)).sorted(), options: options)
        try coordinator.join(member, partitionCounts: partitionCounts(of: group, adding: member.topics))
        startSessionSweep()
        return member
    }

    func leave(_ member: GroupConsumer) throws(ReservoirError) {
        try coordinator.leave(member, partitionCounts: partitionCounts(of: member.group, adding: []))
    }

    /// A member leaves that is being deallocated.
    func leave(memberID: String, group: String) throws(ReservoirError) {
        try coordinator.leave(memberID: memberID, group: group, partitionCounts: partitionCounts(of: group, adding: []))
    }

    /// A member the session timeout took out joins again.
    func rejoin(_ member: GroupConsumer) throws(ReservoirError) {
        try checkOpen()
        try coordinator.join(member, partitionCounts: partitionCounts(of: member.group, adding: member.topics))
    }

    /// Takes the partitions of members silent for longer than their session timeout and gives
    /// them to the others; runs every second on the store's I/O thread while groups have members.
    func sweepSilentMembers() {
        let now = monotonicNanoseconds()
        for member in coordinator.allMembers where member.isSilent(now: now) {
            member.markEvicted()
            options.logger.warning(
                "group member silent past its session timeout: its partitions go to the others",
                metadata: ["group": "\(member.group)", "member": "\(member.memberID)"])
            do throws(ReservoirError) {
                try coordinator.evict(member, partitionCounts: partitionCounts(of: member.group, adding: []))
            } catch {
                options.logger.warning("rebalance after a session timeout failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Starts the sweep (once per store).
    func startSessionSweep() {
        guard !sessionSweepRunning.exchange(true, ordering: .relaxed) else { return }
        let store = WeakStore(self)
        @Sendable func tick() {
            guard let self = store.store, !self.isClosed else { return }
            self.sweepSilentMembers()
            self.scheduleTimer(afterNanoseconds: timerNanoseconds(milliseconds: 1000), tick)
        }
        scheduleTimer(afterNanoseconds: timerNanoseconds(milliseconds: 1000), tick)
    }

    /// Partition counts of every topic the group's members (and `extra`) read.
    private func partitionCounts(of group: String, adding extra: [String]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for topic in Set(coordinator.members(of: group).flatMap(\.topics) + extra) {
            counts[topic] = (try? self.topic(topic))?.partitions.count
        }
        return counts
    }

    /// The partition of the internal offsets topic, created on first use.
    func offsetsLog() throws(ReservoirError) -> PartitionLog {
        try internalLog(OffsetStore.topic, config: OffsetStore.topicConfig)
    }

    /// Appends commits to the offsets topic, then makes them visible.
    ///
    /// Members commit their positions while the store closes too, after it stopped taking
    /// appends and before its logs close.
    func commitOffsets(group: String, _ commits: [TopicPartition: CommittedOffset], acks: Acks) throws(ReservoirError) {
        _ = try offsetsLog()
        try appendRecords(
            to: OffsetStore.topic, records: OffsetStore.records(group: group, commits: commits), partition: 0,
            acks: acks, caller: .storeClosing)
        offsetStore.apply(group: group, commits: commits)
        recordLag(group: group, commits)
    }

    /// `reservoir_consumer_lag` (gauge, by `group`, `topic` and `partition`): the partition's end
    /// offset minus the offset just committed.
    func recordLag(group: String, _ commits: [TopicPartition: CommittedOffset]) {
        for (partition, committed) in commits {
            guard let end = try? log(topic: partition.topic, partition: partition.partition).endOffset else { continue }
            Gauge(
                label: "reservoir_consumer_lag",
                dimensions: [("group", group), ("topic", partition.topic), ("partition", String(partition.partition))]
            ).record(max(0, end.clampedMinus(committed.offset)))
        }
    }

    /// As the synchronous form, durable, suspending for the fsync.
    func commitOffsets(group: String, _ commits: [TopicPartition: CommittedOffset]) async throws {
        _ = try offsetsLog()
        try await appendRecords(
            to: OffsetStore.topic, records: OffsetStore.records(group: group, commits: commits), partition: 0, acks: .durable,
            caller: .store)
        offsetStore.apply(group: group, commits: commits)
        recordLag(group: group, commits)
    }

    // MARK: Groups whose members are elsewhere

    /// Reserves consumer group `group` for members outside this process, such as Kafka clients
    /// of a server on this store (`owner` names them in errors): while it is claimed, in-process
    /// consumers of the group are refused, and a group with in-process members cannot be claimed.
    /// Both kinds share the group's committed offsets.
    ///
    /// - Throws: ``ReservoirError/Code/invalidArgument`` when the group has members in this
    ///   process, or another owner claimed it.
    public func claimGroup(_ group: String, for owner: String) throws(ReservoirError) {
        try checkNotReadOnly()
        try checkOpen()
        try coordinator.claim(group, for: owner)
    }

    /// Ends a claim of ``claimGroup(_:for:)``: the group has no members outside any more.
    public func releaseGroup(_ group: String) {
        coordinator.release(group)
    }

    /// The committed offsets of `group`, by partition.
    public func committedOffsets(group: String) -> [TopicPartition: CommittedOffset] {
        offsetStore.offsets(of: group)
    }

    /// Commits offsets for `group` on behalf of members outside this process, durably: the call
    /// returns once the commits are fsync'd in `__consumer_offsets`.
    ///
    /// - Throws: ``ReservoirError/Code/topicNotFound`` or ``ReservoirError/Code/partitionNotFound``
    ///   for a partition the store does not have; ``ReservoirError/Code/invalidArgument`` for a
    ///   negative offset or metadata over 4096 bytes. Nothing is committed then.
    public func commitGroupOffsets(_ group: String, _ commits: [TopicPartition: CommittedOffset]) async throws {
        try checkNotReadOnly()
        try checkOpen()
        guard !group.isEmpty, group.utf8.count <= 255 else {
            throw ReservoirError(.invalidArgument, "a group name must have 1 to 255 bytes")
        }
        for (partition, commit) in commits {
            let topic = try self.topic(partition.topic)
            guard partition.partition >= 0, partition.partition < topic.partitions.count else {
                throw ReservoirError(.partitionNotFound, "topic \(partition.topic) has no partition \(partition.partition)")
            }
            guard commit.offset >= 0 else { throw ReservoirError(.invalidArgument, "offset \(commit.offset) is negative") }
            guard commit.metadata.utf8.count <= OffsetStore.maxMetadataBytes else {
                throw ReservoirError(.invalidArgument, "commit metadata is over \(OffsetStore.maxMetadataBytes) bytes")
            }
        }
        guard !commits.isEmpty else { return }
        try await commitOffsets(group: group, commits)
    }

    // MARK: Administration

    /// Groups with committed offsets or live members, sorted.
    public var consumerGroups: [String] {
        Array(offsetStore.groups.union(coordinator.activeGroups)).sorted()
    }

    /// One partition of a group, as `groups describe` shows it.
    public struct GroupPartitionStatus: Sendable, Hashable {
        /// The partition.
        public var partition: TopicPartition
        /// The committed next offset, or nil.
        public var committed: Int64?
        /// The offset the partition's next record gets.
        public var endOffset: Int64
        /// End offset minus committed (minus the log start when nothing is committed).
        public var lag: Int64
        /// The live member reading it, if any.
        public var member: String?
    }

    /// Per partition of the topics `group` reads or has committed: committed offset, end, lag, member.
    public func describeGroup(_ group: String) throws(ReservoirError) -> [GroupPartitionStatus] {
        let members = coordinator.members(of: group)
        let committed = offsetStore.offsets(of: group)
        var owners: [TopicPartition: String] = [:]
        for member in members { for partition in member.assignment { owners[partition] = member.memberID } }
        let topics = Set(committed.keys.map(\.topic)).union(members.flatMap(\.topics))
        guard !topics.isEmpty else { throw ReservoirError(.invalidArgument, "consumer group \(group) does not exist") }
        var result: [GroupPartitionStatus] = []
        for topicName in topics.sorted() {
            guard let topic = try? self.topic(topicName) else { continue }
            for (index, log) in topic.partitions.enumerated() {
                let partition = TopicPartition(topicName, index)
                let offset = committed[partition]?.offset
                result.append(
                    GroupPartitionStatus(
                        partition: partition, committed: offset, endOffset: log.endOffset,
                        lag: max(0, log.endOffset.clampedMinus(offset ?? log.startOffset)), member: owners[partition]))
            }
        }
        return result
    }

    /// Sets the committed offsets of `group` for every partition of `topic` to `position`
    /// (Kafka's `--reset-offsets`). The group must have no live members.
    public func resetGroupOffsets(group: String, topic: String, to position: StartPosition) throws(ReservoirError) {
        try checkNotReadOnly()
        try checkOpen()
        guard coordinator.members(of: group).isEmpty, coordinator.claimant(of: group) == nil else {
            throw ReservoirError(.invalidArgument, "consumer group \(group) has live members: reset its offsets when it is empty")
        }
        let handle = try self.topic(topic)
        var commits: [TopicPartition: CommittedOffset] = [:]
        let now = wallClockMilliseconds()
        for (index, log) in handle.partitions.enumerated() {
            let offset = try LogFetcher.resolve(position, in: log, end: log.endOffset)
            // A position outside the log would read as lag 0 and restart the group from the reset
            // position: refused, as Kafka's tools refuse it.
            guard offset >= log.startOffset, offset <= log.endOffset else {
                throw ReservoirError(
                    .offsetOutOfRange,
                    "offset \(offset) is outside partition \(index) of \(topic) (\(log.startOffset)...\(log.endOffset)): choose an offset in the log"
                )
            }
            commits[TopicPartition(topic, index)] = CommittedOffset(offset: offset, metadata: "", commitTimestamp: now)
        }
        try commitOffsets(group: group, commits, acks: .durable)
    }

    /// Deletes a group's committed offsets (tombstones in the offsets topic). The group must
    /// have no live members.
    public func deleteGroup(_ group: String) throws(ReservoirError) {
        try checkNotReadOnly()
        try checkOpen()
        guard coordinator.members(of: group).isEmpty, coordinator.claimant(of: group) == nil else {
            throw ReservoirError(.invalidArgument, "consumer group \(group) has live members: delete it when it is empty")
        }
        let tombstones = offsetStore.tombstones(group: group)
        guard !tombstones.isEmpty else { throw ReservoirError(.invalidArgument, "consumer group \(group) does not exist") }
        try appendRecords(to: OffsetStore.topic, records: tombstones, partition: 0, acks: .durable, caller: .store)
        offsetStore.remove(group: group)
    }
}
