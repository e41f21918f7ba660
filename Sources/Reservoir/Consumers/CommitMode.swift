import Synchronization

/// How a group member commits its position.
public enum CommitMode: Sendable, Hashable {
    /// The positions of the records handed out are committed when the member fetches more, at
    /// most once per interval, and when it leaves: a crash redelivers at most what was handed out
    /// since the last commit (at-least-once).
    case auto(intervalMilliseconds: Int)
    /// Only ``GroupConsumer/commit()`` commits.
    case manual

    /// Auto-commit once a second.
    public static let auto = CommitMode.auto(intervalMilliseconds: 1000)
}
