/// What a maintenance pass did, partition by partition (only partitions it changed).
public struct MaintenanceReport: Sendable, Hashable {
    /// What the pass did, per partition that changed.
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
