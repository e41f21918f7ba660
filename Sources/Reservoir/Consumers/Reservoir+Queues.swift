import Synchronization

/// Work queues: shared per group and topic within the store.
extension Reservoir {
    /// The work queue of `group` over `topic`; every call with the same group and topic returns
    /// the same queue, so any number of consumers can take from it.
    ///
    /// The dead-letter topic, when the options name one, is created on first use with the
    /// source topic's partition count and default settings. In a store opened read-only, the
    /// queue can only be looked at (``WorkQueue/peek(max:)``, ``WorkQueue/status``).
    ///
    /// - Throws: ``ReservoirError/Code/topicNotFound`` for a missing topic;
    ///   ``ReservoirError/Code/invalidArgument`` when this process already has that queue open
    ///   with other options.
    public func queue(group: String, topic: String, options: QueueOptions = QueueOptions()) throws(ReservoirError) -> WorkQueue {
        try checkOpen()
        guard !group.isEmpty, group.utf8.count <= 255 else {
            throw ReservoirError(.invalidArgument, "a group name must have 1 to 255 bytes")
        }
        guard options.maxDeliveries >= 1, options.maxInFlightPerPartition >= 1, options.lockMilliseconds >= 1 else {
            throw ReservoirError(.invalidArgument, "queue limits must be positive")
        }
        let handle = try self.topic(topic)
        if !isReadOnly {
            if let deadLetters = options.deadLetterTopic, !topicNames.contains(deadLetters) {
                do throws(ReservoirError) {
                    try createTopic(deadLetters, config: TopicConfig(partitions: handle.config.partitions))
                } catch  where error.code == .topicAlreadyExists {
                    // Created meanwhile by another caller: the same topic.
                }
            }
            _ = try internalLog(QueueStateStore.topic, config: QueueStateStore.topicConfig)
        }
        return try queues.withLock { (queues) throws(ReservoirError) -> WorkQueue in
            let key = group + "\u{0}" + topic
            if let existing = queues[key] {
                guard existing.options == options else {
                    throw ReservoirError(
                        .invalidArgument,
                        "the work queue of group \(group) over topic \(topic) is already open in this process with other options: ask for it with the same options, or use another group"
                    )
                }
                return existing
            }
            let queue = try WorkQueue(store: self, group: group, topic: handle, options: options, states: queueStates)
            queues[key] = queue
            return queue
        }
    }

    /// Groups with queue state, sorted.
    public var queueGroups: [String] { queueStates.groups.sorted() }

    /// The counts of a queue group over all its topics, from the live queues or the stored state.
    public func queueStatus(group: String) throws(ReservoirError) -> WorkQueue.Status {
        let live = queues.withLock { $0.values.filter { $0.group == group } }
        if !live.isEmpty {
            return live.map(\.status).reduce(
                WorkQueue.Status(inFlight: 0, awaitingRedelivery: 0, acknowledged: 0, archived: 0, deadLettered: 0)
            ) {
                WorkQueue.Status(
                    inFlight: $0.inFlight + $1.inFlight, awaitingRedelivery: $0.awaitingRedelivery + $1.awaitingRedelivery,
                    acknowledged: $0.acknowledged.clampedPlus($1.acknowledged), archived: $0.archived.clampedPlus($1.archived),
                    deadLettered: $0.deadLettered.clampedPlus($1.deadLettered))
            }
        }
        guard queueStates.groups.contains(group) else { throw ReservoirError(.invalidArgument, "queue group \(group) does not exist") }
        var status = WorkQueue.Status(inFlight: 0, awaitingRedelivery: 0, acknowledged: 0, archived: 0, deadLettered: 0)
        for snapshot in queueStates.snapshots(of: group) {
            status.acknowledged = status.acknowledged.clampedPlus(snapshot.acknowledged)
            status.archived = status.archived.clampedPlus(snapshot.archived)
            status.deadLettered = status.deadLettered.clampedPlus(snapshot.deadLettered)
            status.awaitingRedelivery += snapshot.runs.filter { $0.state == .available }.reduce(0) {
                $0.clampedPlus(Int($1.last - $1.first + 1))
            }
        }
        return status
    }

    /// The partition of an internal topic, created on first use.
    func internalLog(_ name: String, config: TopicConfig) throws(ReservoirError) -> PartitionLog {
        try internalTopicLock.withLock { _ throws(ReservoirError) -> PartitionLog in
            if let topic = try? self.topic(name) { return try topic.log(0) }
            return try createTopicUnchecked(name, config: config).log(0)
        }
    }

    /// Appends work-queue snapshot records (keyed by group and partition) to `__queue_state`.
    func writeQueueState(_ records: [Record]) throws(ReservoirError) {
        try appendRecords(to: QueueStateStore.topic, records: records, partition: 0, acks: .buffered, caller: .store)
    }
}
