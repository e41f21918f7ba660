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
