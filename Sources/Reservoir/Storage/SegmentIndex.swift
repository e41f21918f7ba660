/// What a segment's two sparse indexes share: fixed-size entries in one ``IndexFile``, whose
/// offsets are stored relative to the segment's base offset.
protocol SegmentIndex: AnyObject {
    associatedtype Entry

    /// Bytes per entry in the file.
    static var entrySize: Int { get }
    var baseOffset: Int64 { get }
    var storage: IndexFile { get }

    init(baseOffset: Int64, storage: IndexFile)

    /// The entry at `index`, which must be below ``entryCount``.
    func entry(_ index: Int) -> Entry
}

extension SegmentIndex {
    /// The index at `path`, created or opened by the writer with room for `maxBytes`.
    init(path: String, baseOffset: Int64, maxBytes: Int, writable: Bool) throws(ReservoirError) {
        self.init(
            baseOffset: baseOffset,
            storage: try IndexFile(path: path, entrySize: Self.entrySize, maxBytes: maxBytes, writable: writable))
    }

    /// The index at `path`, mapped for a read-only process (see ``IndexFile/init(readingPath:entrySize:)``).
    init(readingPath path: String, baseOffset: Int64) throws(ReservoirError) {
        self.init(baseOffset: baseOffset, storage: try IndexFile(readingPath: path, entrySize: Self.entrySize))
    }

    var entryCount: Int { storage.entryCount }

    var lastEntry: Entry? {
        let count = entryCount
        return count > 0 ? entry(count - 1) : nil
    }
}
