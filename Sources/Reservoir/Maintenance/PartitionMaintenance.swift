/// What one maintenance pass did to one partition.
public struct PartitionMaintenance: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition's number.
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
