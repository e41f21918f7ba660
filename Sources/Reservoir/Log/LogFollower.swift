import Synchronization

/// What a read-only process knows of a partition that another process may be writing: the
/// writer's session it follows, the layout generation of the segments it has mapped, and the
/// ends it may read to (see ``LiveStateFile`` and `PartitionLog+Following.swift`).
final class LogFollower: Sendable {
    /// Where the store's live state is found.
    let source: LiveStateSource
    /// The store's live state; nil while it has none (then the files are read as they are).
    var live: LiveStateFile? { source.file }
    let partition: TopicPartition
    /// Up to where this process reads: the durable end (the default) or the written end.
    let visibility: ReadIsolation
    /// The log start offset the store's checkpoint names, read again when no writer publishes one.
    let checkpointedLogStart: @Sendable () -> Int64?
    /// The recovery point the store's checkpoint names: below it, bytes that do not scan are damage.
    let checkpointedRecoveryPoint: @Sendable () -> Int64?
    /// Whether the store's last writer closed it cleanly (its segments then end at whole batches).
    let closedCleanly: @Sendable () -> Bool

    struct View: Sendable {
        /// The writer's session the segments were loaded under (0: none, the files as they are).
        var instance: UInt64 = 0
        var slot: LiveSlot?
        /// The layout generation the segment list matches.
        var layout: Int64 = -1
        /// The segment the writer appends to, as mapped here.
        var active: Segment?
        var loaded = false
    }

    let view = Mutex<View>(View())
    /// The writer's durable end, as last published.
    let durableEnd = AtomicInt(0)
    /// Offsets of the segments mapped here that do not scan: reads of them fail, as in the writer.
    let damage = Mutex<[DamagedRange]>([])

    init(
        live: LiveStateSource, partition: TopicPartition, visibility: ReadIsolation,
        checkpointedLogStart: @escaping @Sendable () -> Int64?, checkpointedRecoveryPoint: @escaping @Sendable () -> Int64?,
        closedCleanly: @escaping @Sendable () -> Bool
    ) {
        self.closedCleanly = closedCleanly
        self.checkpointedRecoveryPoint = checkpointedRecoveryPoint
        source = live
        self.partition = partition
        self.visibility = visibility
        self.checkpointedLogStart = checkpointedLogStart
    }
}
