import Synchronization

/// A committed position of a consumer group in one partition.
public struct CommittedOffset: Sendable, Hashable {
    /// The next offset the group will read.
    public var offset: Int64
    /// Free text the committer attached (at most 4096 bytes, as Kafka's `offset.metadata.max.bytes`).
    public var metadata: String
    /// When it was committed (ms since the epoch).
    public var commitTimestamp: Int64

    /// A committed position: the next offset to read, its metadata and when it was committed.
    public init(offset: Int64, metadata: String = "", commitTimestamp: Int64) {
        self.offset = offset
        self.metadata = metadata
        self.commitTimestamp = commitTimestamp
    }
}
