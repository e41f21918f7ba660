/// How an append is acknowledged.
public enum Acks: Sendable, Hashable {
    /// Once the batch is in the page cache: survives a crash of the process, not of the machine.
    case buffered
    /// Once the batch is fsync'd; concurrent durable appends share one fsync.
    case durable
}
