/// Totals since the store was opened, per partition (``Reservoir/maintenanceTotals``).
public struct MaintenanceTotals: Sendable, Hashable {
    /// Records retention removed.
    public var recordsRemovedByRetention = 0
    /// Bytes retention removed.
    public var bytesRemovedByRetention = 0
    /// Records compaction removed.
    public var recordsRemovedByCompaction = 0
    /// Bytes compaction removed.
    public var bytesRemovedByCompaction = 0
    /// Compaction passes that ran.
    public var compactionPasses = 0
    /// Seconds the cleaner spent compacting.
    public var cleanerSeconds = 0.0
    /// The dirty ratio at the last look.
    public var dirtyRatio = 0.0
}
