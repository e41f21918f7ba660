/// What happens to a topic's old records (Kafka's `cleanup.policy`).
public struct CleanupPolicy: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    /// The policy with the bits of `rawValue`.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Whole old segments are deleted by time (`retentionMs`) and size (`retentionBytes`).
    public static let delete = CleanupPolicy(rawValue: 1)
    /// The latest record of each key is kept; older records with the same key are removed.
    public static let compact = CleanupPolicy(rawValue: 2)

    /// `delete`, `compact` or `compact,delete`.
    public var description: String {
        var names: [String] = []
        if contains(.compact) { names.append("compact") }
        if contains(.delete) { names.append("delete") }
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }

    /// Parses `delete`, `compact`, or both separated by a comma (in any order).
    public init?(parsing text: String) {
        var policy: CleanupPolicy = []
        for part in text.split(separator: ",") {
            switch part.filter({ $0 != " " }) {
            case "delete": policy.insert(.delete)
            case "compact": policy.insert(.compact)
            default: return nil
            }
        }
        guard !policy.isEmpty else { return nil }
        self = policy
    }
}
