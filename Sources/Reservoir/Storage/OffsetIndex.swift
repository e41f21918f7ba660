/// The sparse offset index of one segment (`.index`): 8-byte entries of a relative offset (u32 BE)
/// and the byte position in `.log` (u32 BE) of the batch whose last offset that is.
///
/// Kafka's layout and semantics: an entry is added once more than `indexIntervalBytes` of log were
/// written since the last one, keyed by the batch's last offset and pointing at its start. A lookup
/// returns the last entry at or below the target, or the segment start.
final class OffsetIndex: SegmentIndex, Sendable {
    static let entrySize = 8
    let baseOffset: Int64
    let storage: IndexFile

    init(baseOffset: Int64, storage: IndexFile) {
        self.baseOffset = baseOffset
        self.storage = storage
    }

    struct Entry: Equatable {
        var offset: Int64
        var position: Int
    }

    var isFull: Bool { storage.isFull }

    func entry(_ index: Int) -> Entry {
        let pointer = storage.entry(index)
        return Entry(
            offset: baseOffset + Int64(BigEndian.load(pointer, 0, as: UInt32.self)),
            position: Int(BigEndian.load(pointer, 4, as: UInt32.self)))
    }

    /// The last entry with offset ≤ `offset`, or `(baseOffset, 0)`.
    func lookup(_ offset: Int64) -> Entry {
        let relative = offset - baseOffset
        guard relative >= 0, relative <= Int64(UInt32.max),
            let index = storage.lastEntry(atOrBelow: UInt32(relative), key: { BigEndian.load($0, 0, as: UInt32.self) })
        else {
            if relative > Int64(UInt32.max), let last = lastEntry { return last }
            return Entry(offset: baseOffset, position: 0)
        }
        return entry(index)
    }

    /// Appends `(offset, position)`; the caller keeps offsets increasing and checks ``isFull``.
    func append(offset: Int64, position: Int) throws(ReservoirError) {
        try storage.append { pointer in
            BigEndian.store(UInt32(truncatingIfNeeded: offset - baseOffset), pointer, 0)
            BigEndian.store(UInt32(truncatingIfNeeded: position), pointer, 4)
        }
    }

    /// Checks what a loaded index must satisfy: whole entries, offsets and positions strictly
    /// increasing, positions inside the log. Returns a reason when it does not.
    func sanityCheck(logSize: Int) -> String? {
        if storage.hadPartialEntry { return "length is not a multiple of \(Self.entrySize)" }
        var previous: Entry?
        for index in 0..<entryCount {
            let current = entry(index)
            if current.position >= logSize { return "entry \(index) points past the log end" }
            if let previous, current.offset <= previous.offset || current.position <= previous.position {
                return "entry \(index) is not increasing"
            }
            previous = current
        }
        return nil
    }
}
