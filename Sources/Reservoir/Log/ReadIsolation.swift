/// Which records a read may return.
public enum ReadIsolation: Sendable, Hashable {
    /// Everything appended (in the page cache: survives a process crash).
    case written
    /// Only records already fsync'd (survive a power loss).
    case durable
}
