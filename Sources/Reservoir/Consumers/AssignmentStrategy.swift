import Synchronization

/// How a group's partitions are shared among its members.
public enum AssignmentStrategy: Sendable, Hashable {
    /// Per topic, each member gets a contiguous range of partitions (Kafka's default `range`).
    case range
    /// All partitions of the subscribed topics dealt one by one across the members.
    case roundRobin
}
