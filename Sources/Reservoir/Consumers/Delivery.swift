import Synchronization

/// One record handed out by a ``WorkQueue``, locked to its consumer until it is acknowledged,
/// released or rejected, or its lock expires.
public struct Delivery: Sendable {
    /// The record delivered.
    public let record: ConsumerRecord
    /// 1 on the first delivery, then one more each time it is delivered again.
    public let deliveryCount: Int
    let token: Int
    let queue: WorkQueue

    /// Done: never delivered again.
    public func ack() throws(ReservoirError) { try queue.settle([self], as: .ack) }
    /// Give it back now (counts as a delivery): available again, or archived at the limit.
    public func release() throws(ReservoirError) { try queue.settle([self], as: .release) }
    /// Never deliver again: archived (and dead-lettered when configured).
    public func reject() throws(ReservoirError) { try queue.settle([self], as: .reject) }
}
