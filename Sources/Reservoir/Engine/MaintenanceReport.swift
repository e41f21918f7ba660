/// What one maintenance pass did to one partition.
public struct PartitionMaintenance: Sendable, Hashable {
    public var topic: String
    public var partition: Int
    /// The active segment was rolled because it was older than `segmentMs`.
    public var rolled = false
    /// Removed by retention (time, size, or the log start offset).
    public var retention = PartitionLog.Removal()
    /// Compaction ran on this partition.
    public var compacted = false
    /// Records compaction removed (superseded values, expired tombstones, unkeyed records).
    public var recordsCompacted = 0
    /// Bytes compaction saved (cleaned segments' size before minus after).
    public var bytesCompacted = 0
    /// Bytes of dirty log compaction read.
    public var dirtyBytesCleaned = 0
    /// The dirty ratio before the pass.
    public var dirtyRatio = 0.0
    /// Time spent cleaning, in seconds.
    public var cleanerSeconds = 0.0

    /// Whether the pass changed anything.
    public var changedAnything: Bool { rolled || retention.segments > 0 || compacted }
}

/// What a maintenance pass did, partition by partition (only partitions it changed).
public struct MaintenanceReport: Sendable, Hashable {
    public var partitions: [PartitionMaintenance] = []

    /// Records removed by retention, over all partitions.
    public var recordsRemovedByRetention: Int { partitions.reduce(0) { $0 + $1.retention.records } }
    /// Bytes removed by retention.
    public var bytesRemovedByRetention: Int { partitions.reduce(0) { $0 + $1.retention.bytes } }
    /// Records removed by compaction.
    public var recordsRemovedByCompaction: Int { partitions.reduce(0) { $0 + $1.recordsCompacted } }
    /// Bytes removed by compaction.
    public var bytesRemovedByCompaction: Int { partitions.reduce(0) { $0 + $1.bytesCompacted } }
}

/// Totals since the store was opened, per partition (``Reservoir/maintenanceTotals``).
public struct MaintenanceTotals: Sendable, Hashable {
    public var recordsRemovedByRetention = 0
    public var bytesRemovedByRetention = 0
    public var recordsRemovedByCompaction = 0
    public var bytesRemovedByCompaction = 0
    public var compactionPasses = 0
    public var cleanerSeconds = 0.0
    /// The dirty ratio at the last look.
    public var dirtyRatio = 0.0
}
