/// The time index of one segment (`.timeindex`): 12-byte entries of a timestamp (i64 BE) and a
/// relative offset (u32 BE), meaning "the largest timestamp up to this offset is this".
///
/// Entries are appended alongside offset-index entries, and only when the largest timestamp
/// grows, so both columns increase. The last slot is kept free for the entry forced on roll and
/// close, from which retention reads the segment's largest timestamp.
final class TimeIndex: SegmentIndex, Sendable {
    static let entrySize = 12
    let baseOffset: Int64
    let storage: IndexFile

    init(baseOffset: Int64, storage: IndexFile) {
        self.baseOffset = baseOffset
        self.storage = storage
    }

    struct Entry: Equatable {
        var timestamp: Int64
        var offset: Int64
    }

    /// Full one slot early: the last slot is reserved for ``append(timestamp:offset:force:)`` with `force`.
    var isFull: Bool { storage.entryCount >= storage.maxEntries - 1 }

    func entry(_ index: Int) -> Entry {
        let pointer = storage.entry(index)
        return Entry(
            timestamp: BigEndian.load(pointer, 0, as: Int64.self),
            offset: baseOffset + Int64(BigEndian.load(pointer, 8, as: UInt32.self)))
    }

    /// The last entry with timestamp ≤ `timestamp`, or `(-1, baseOffset)`.
    func lookup(_ timestamp: Int64) -> Entry {
        guard let index = storage.lastEntry(atOrBelow: timestamp, key: { BigEndian.load($0, 0, as: Int64.self) }) else {
            return Entry(timestamp: -1, offset: baseOffset)
        }
        return entry(index)
    }

    /// Appends when `timestamp` is larger than the last entry's; `force` may use the reserved slot.
    func append(timestamp: Int64, offset: Int64, force: Bool = false) throws(ReservoirError) {
        if let last = lastEntry, timestamp <= last.timestamp || offset < last.offset { return }
        if storage.isFull || (!force && isFull) { return }
        try storage.append { pointer in
            BigEndian.store(timestamp, pointer, 0)
            BigEndian.store(UInt32(truncatingIfNeeded: offset - baseOffset), pointer, 8)
        }
    }

    func sanityCheck(lastOffset: Int64) -> String? {
        if storage.hadPartialEntry { return "length is not a multiple of \(Self.entrySize)" }
        var previous: Entry?
        for index in 0..<entryCount {
            let current = entry(index)
            if current.offset > lastOffset { return "entry \(index) points past the last offset" }
            if let previous, current.timestamp <= previous.timestamp || current.offset < previous.offset {
                return "entry \(index) is not increasing"
            }
            previous = current
        }
        return nil
    }
}
