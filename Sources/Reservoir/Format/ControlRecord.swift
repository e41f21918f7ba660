/// The kind of a control record (a record of a control batch): its key is an int16 version and
/// an int16 type, as Kafka's `ControlRecordType` defines them.
public enum ControlRecord: Sendable, Hashable, CustomStringConvertible {
    /// A transaction aborted.
    case abort
    /// A transaction committed.
    case commit
    /// KRaft: a new quorum leader.
    case leaderChange
    /// KRaft: the start of a metadata snapshot.
    case snapshotHeader
    /// KRaft: the end of a metadata snapshot.
    case snapshotFooter
    /// KRaft: the quorum's protocol version.
    case kraftVersion
    /// KRaft: the set of voters.
    case voters
    /// A type this version does not know.
    case unknown(Int16)

    /// The control record whose key is `key`; nil when the key is not a control key (shorter
    /// than four bytes, or null).
    public init?(key: [UInt8]?) {
        guard let key, key.count >= 4 else { return nil }
        let type = Int16(bitPattern: UInt16(key[2]) << 8 | UInt16(key[3]))
        switch type {
        case 0: self = .abort
        case 1: self = .commit
        case 2: self = .leaderChange
        case 3: self = .snapshotHeader
        case 4: self = .snapshotFooter
        case 5: self = .kraftVersion
        case 6: self = .voters
        default: self = .unknown(type)
        }
    }

    /// The control record's kind and fields, as text.
    public var description: String {
        switch self {
        case .abort: "ABORT"
        case .commit: "COMMIT"
        case .leaderChange: "LEADER_CHANGE"
        case .snapshotHeader: "SNAPSHOT_HEADER"
        case .snapshotFooter: "SNAPSHOT_FOOTER"
        case .kraftVersion: "KRAFT_VERSION"
        case .voters: "KRAFT_VOTERS"
        case .unknown(let type): "UNKNOWN(\(type))"
        }
    }
}
