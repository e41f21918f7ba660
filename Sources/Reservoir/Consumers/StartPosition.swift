/// Where a reader starts.
public enum StartPosition: Sendable, Hashable {
    /// The first record still in the partition.
    case earliest
    /// The end: only records appended from now on.
    case latest
    /// This offset (the next record at or after it, when it fell in a gap).
    case offset(Int64)
    /// The first record whose timestamp is at or after this time (ms since the epoch); the end
    /// when every record is older.
    case timestamp(Int64)
}
