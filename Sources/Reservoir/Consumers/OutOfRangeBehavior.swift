/// What a reader does when its position is no longer in the partition (retention or
/// `deleteRecords` removed it, or it was beyond the end).
public enum OutOfRangeBehavior: Sendable, Hashable {
    /// Throw ``ReservoirError/Code/offsetOutOfRange``.
    case fail
    /// Go on from the earliest offset still present.
    case restartAtEarliest
}
