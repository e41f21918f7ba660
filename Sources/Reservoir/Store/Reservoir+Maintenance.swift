extension Reservoir {
    // MARK: Maintenance

    /// Runs a maintenance pass now, on the maintenance thread, and waits for it: time-based
    /// rolls, then retention (with `retention`), then compaction of compacted topics whose dirty
    /// ratio or compaction lag calls for it (with `compaction`; `ignoringDirtyRatio` cleans any
    /// dirty section).
    ///
    /// - Parameters:
    ///   - topic: one topic, or every topic when nil.
    ///   - retention: apply retention (deletion by time and size, and below the log start).
    ///   - compaction: compact the compacted topics that call for it.
    ///   - ignoringDirtyRatio: compact any dirty section, whatever its ratio and lag.
    ///   - now: the time the pass takes as now, in ms since the epoch (the wall clock when nil);
    ///     a later time shows what the pass will do then (tests and operators).
    /// - Returns: what the pass removed, partition by partition.
    @discardableResult
    public func maintain(
        topic: String? = nil, retention: Bool = true, compaction: Bool = true, ignoringDirtyRatio: Bool = false, now: Int64? = nil
    ) throws(ReservoirError) -> MaintenanceReport {
        try checkNotReadOnly()
        try checkOpen()
        if let topic { _ = try self.topic(topic) }
        return try maintenance.runNow(
            topic: topic, retention: retention, compaction: compaction,
            ignoringDirtyRatio: ignoringDirtyRatio, now: now)
    }

    /// Makes the records of a partition below `offset` unreadable and deletes the segments
    /// wholly below it (Kafka's DeleteRecords). The new log start offset is checkpointed.
    ///
    /// - Throws: ``ReservoirError/Code/offsetOutOfRange`` for an offset beyond the log end.
    @discardableResult
    public func deleteRecords(topic: String, partition: Int, before offset: Int64) throws(ReservoirError) -> PartitionLog.Removal {
        try checkNotReadOnly()
        try checkOpen()
        try checkWritable(topic)
        let topicHandle = try self.topic(topic)
        return try topicHandle.log(partition).deleteRecords(before: offset, deleteDelayMs: topicHandle.config.fileDeleteDelayMs)
    }

    /// A partition's offsets, size and compaction state, for `describe`.
    public struct PartitionStatus: Sendable, Hashable {
        /// The partition's number.
        public var partition: Int
        /// The first offset still in the log.
        public var startOffset: Int64
        /// The offset the next record gets.
        public var endOffset: Int64
        /// Segment files.
        public var segments: Int
        /// Bytes in the segments.
        public var bytes: Int
        /// Share of the cleanable bytes not yet compacted (0 for topics that are not compacted).
        public var dirtyRatio: Double
        /// The first offset not yet compacted.
        public var firstDirtyOffset: Int64
    }

    /// The status of every partition of `topic`.
    public func status(of topic: String) throws(ReservoirError) -> [PartitionStatus] {
        let handle = try self.topic(topic)
        let now = wallClockMilliseconds()
        return handle.partitions.enumerated().map { partition, log in
            let segments = log.segments
            let firstDirty = maintenance.firstDirtyOffset(topic: topic, partition: partition)
            let survey = LogCleaner.survey(log, firstDirty: firstDirty, now: now, minCompactionLagMs: handle.config.minCompactionLagMs)
            return PartitionStatus(
                partition: partition, startOffset: log.startOffset, endOffset: log.endOffset, segments: segments.count,
                bytes: segments.reduce(0) { $0 + $1.bytes },
                dirtyRatio: handle.config.cleanup.contains(.compact) ? survey.dirtyRatio : 0, firstDirtyOffset: survey.firstDirty)
        }
    }

    /// What maintenance removed since the store was opened, by partition.
    public var maintenanceTotals: [TopicPartition: MaintenanceTotals] { maintenance.allTotals }
}

extension Reservoir {
    /// Which records of `topic` replace their key's earlier ones when it is compacted: the
    /// internal tables' rule for theirs, Kafka's for every other topic (nil).
    static func supersedingRule(ofTopic topic: String) -> LogCleaner.SupersedingRule? {
        switch topic {
        case OffsetStore.topic: CompactedTable<OffsetStore>.supersedes
        case QueueStateStore.topic: CompactedTable<QueueStateStore>.supersedes
        default: nil
        }
    }
}
