/// Offsets of a partition that cannot be read because their bytes on disk are damaged or missing.
///
/// Opening a store never deletes data that was durable: damage below the recovery point, or in
/// any segment of a cleanly closed store, is kept on disk as it is and reported here. Reads of
/// these offsets fail with ``ReservoirError/Code/corruptData``, naming the partition, the offset
/// and the file; `reservoir verify --repair` (`DamageRepair`) lets an operator keep what can be
/// kept and move the damaged bytes aside.
public struct DamagedRange: Sendable, Hashable, CustomStringConvertible {
    /// What kind of damage this is.
    public enum Kind: String, Sendable, Hashable {
        /// Bytes in a segment that are not a valid batch (torn, overwritten, bit flips).
        case invalidBytes
        /// Offsets between two segments that no segment holds (a segment missing or cut short).
        case missingOffsets
        /// Two segments hold the same offsets.
        case overlap
        /// The checkpointed log start lies below the first segment (segments missing at the start).
        case missingStart
        /// The log ends before its checkpointed recovery point (durable records missing at the end).
        case missingEnd
    }

    /// What kind of damage this is.
    public var kind: Kind
    /// The first offset that cannot be read.
    public var firstOffset: Int64
    /// The offset after the last one affected; nil when the extent is unknown (damage at the end
    /// of the log, where nothing says how many records were lost).
    public var endOffset: Int64?
    /// The file that holds the damaged bytes, or, for offsets no file holds, the segment after them.
    public var file: String
    /// Where the damage starts in `file`, when it is inside one.
    public var bytePosition: Int?
    /// What is wrong.
    public var reason: String

    /// Whether `offset` is one of the damaged offsets.
    public func contains(_ offset: Int64) -> Bool {
        offset >= firstOffset && (endOffset.map { offset < $0 } ?? true)
    }

    /// The offsets as text: `A..<B`, or `A...` when the extent is unknown.
    public var offsets: String {
        if let endOffset { "\(firstOffset)..<\(endOffset)" } else { "\(firstOffset)..." }
    }

    /// The offsets, the file and byte, and what is wrong, as one line.
    public var description: String {
        "offsets \(offsets) in \(file)\(bytePosition.map { " at byte \($0)" } ?? ""): \(reason)"
    }
}
