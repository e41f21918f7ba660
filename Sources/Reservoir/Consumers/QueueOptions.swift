import Synchronization

/// How a work queue hands out records.
public struct QueueOptions: Sendable, Hashable {
    /// How long a consumer holds a record before it becomes available again (30 s).
    public var lockMilliseconds: Int
    /// Deliveries after which a record is archived (and dead-lettered) instead of delivered again (5).
    public var maxDeliveries: Int
    /// Records held by consumers at once, per partition (1000).
    public var maxInFlightPerPartition: Int
    /// Where archived records are copied, with delivery metadata in their headers (none).
    public var deadLetterTopic: String?
    /// Records one iteration acquires at a time for the consumer iterating (16); each is locked
    /// to that consumer until acknowledged, released or expired.
    public var prefetch: Int
    /// Where a queue with no stored state begins.
    public var startAt: StartPosition
    /// Which records the queue hands out: everything written, or only what is durable.
    public var isolation: ReadIsolation

    /// Options with the defaults above.
    public init(
        lockMilliseconds: Int = 30_000, maxDeliveries: Int = 5, maxInFlightPerPartition: Int = 1000, deadLetterTopic: String? = nil,
        prefetch: Int = 16, startAt: StartPosition = .earliest, isolation: ReadIsolation = .written
    ) {
        self.lockMilliseconds = lockMilliseconds
        self.maxDeliveries = maxDeliveries
        self.maxInFlightPerPartition = maxInFlightPerPartition
        self.deadLetterTopic = deadLetterTopic
        self.prefetch = prefetch
        self.startAt = startAt
        self.isolation = isolation
    }
}
