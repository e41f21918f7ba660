import Synchronization

/// A change of a member's partitions.
public enum RebalanceEvent: Sendable, Hashable {
    /// The member now reads these partitions, from the group's committed offsets.
    case assigned([TopicPartition])
    /// The member no longer reads these partitions; its position in them was committed.
    case revoked([TopicPartition])
}
