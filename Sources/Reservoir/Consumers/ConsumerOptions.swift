import Synchronization

/// How a group member reads.
public struct ConsumerOptions: Sendable {
    /// How the group's partitions are shared among its members.
    public var assignment: AssignmentStrategy
    /// When positions are committed: as records are handed out, or when the member asks.
    public var commit: CommitMode
    /// Where a partition without a committed offset starts (`.earliest`, `.latest` or a time).
    public var resetTo: StartPosition
    /// Which records a member may read: everything written, or only what is durable.
    public var isolation: ReadIsolation
    /// How much one internal fetch reads per partition.
    public var maxBytes: Int
    /// Called, after the change, whenever the member's partitions change.
    public var onRebalance: (@Sendable (RebalanceEvent) -> Void)?
    /// How long a member may go without reading (``GroupConsumer/poll(maxRecords:)``, the next
    /// record of ``GroupConsumer/records``, or a commit) before the group takes its partitions
    /// and gives them to the others (Kafka's `session.timeout.ms`, 45 s). Waiting for records
    /// at the end of the log counts as reading. The member joins again when it next reads.
    public var sessionTimeoutMilliseconds: Int

    /// Options with the defaults above.
    public init(
        assignment: AssignmentStrategy = .range, commit: CommitMode = .auto, resetTo: StartPosition = .earliest,
        isolation: ReadIsolation = .written, maxBytes: Int = 1 << 20, onRebalance: (@Sendable (RebalanceEvent) -> Void)? = nil,
        sessionTimeoutMilliseconds: Int = 45_000
    ) {
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        self.assignment = assignment
        self.commit = commit
        self.resetTo = resetTo
        self.isolation = isolation
        self.maxBytes = maxBytes
        self.onRebalance = onRebalance
    }
}
