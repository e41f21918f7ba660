/// Read-only inspection of segment files, for `dump` and `verify`: never modifies a file, and
/// reports damage instead of repairing it.
public enum SegmentFileInspector {
    /// One batch found in a `.log` file, or the reason the scan stopped.
    public struct BatchEntry: Sendable {
        public var position: Int
        public var batch: RecordBatch?
        public var header: RecordBatchHeader?
        public var crcValid: Bool
        /// Set when the bytes at `position` are not a valid batch (the scan stops there).
        public var error: String?
    }

    /// Every batch of a `.log` file in order, ending with an entry that has an error when the
    /// file has a torn or corrupt tail.
    public static func batches(inLogFile path: String) throws(ReservoirError) -> [BatchEntry] {
        let file = try FileHandle.open(path, writable: false)
        let size = try file.size()
        guard size > 0 else { return [] }
        let region = try MappedRegion(file: file, length: size, writable: false)
        let bytes = region.bytes(from: 0, count: size)
        var entries: [BatchEntry] = []
        var position = 0
        while position < size {
            let header: RecordBatchHeader
            do {
                header = try RecordBatchHeader.validate(bytes, at: position, verifyCRC: false)
            } catch {
                // Zeros to the end are space preallocated ahead of a live writer, not damage.
                if Segment.isZero(region.bytes(from: position, count: size - position)) { break }
                entries.append(BatchEntry(position: position, batch: nil, header: nil, crcValid: false, error: "\(error)"))
                break
            }
            let slice = region.bytes(from: position, count: header.totalSize)
            let crcValid = (try? RecordBatchHeader.validate(slice)) != nil
            entries.append(BatchEntry(position: position, batch: RecordBatch(owner: region, bytes: slice, header: header),
                                      header: header, crcValid: crcValid, error: crcValid ? nil : "CRC mismatch"))
            position += header.totalSize
        }
        return entries
    }

    /// The entries of a `.index` file as `(offset, position)`; the base offset comes from the name.
    public static func offsetIndexEntries(path: String) throws(ReservoirError) -> (entries: [(offset: Int64, position: Int)], partialBytes: Int) {
        try entries(path: path, size: OffsetIndex.entrySize) { entry, base in
            (base + Int64(BigEndian.load(entry, 0, as: UInt32.self)), Int(BigEndian.load(entry, 4, as: UInt32.self)))
        }
    }

    /// The entries of a `.timeindex` file as `(timestamp, offset)`.
    public static func timeIndexEntries(path: String) throws(ReservoirError) -> (entries: [(timestamp: Int64, offset: Int64)], partialBytes: Int) {
        try entries(path: path, size: TimeIndex.entrySize) { entry, base in
            (BigEndian.load(entry, 0, as: Int64.self), base + Int64(BigEndian.load(entry, 8, as: UInt32.self)))
        }
    }

    /// Decodes every whole `size`-byte entry of an index file; also returns the stray bytes after them.
    private static func entries<Entry>(
        path: String, size: Int, decode: (UnsafeRawPointer, Int64) -> Entry
    ) throws(ReservoirError) -> (entries: [Entry], partialBytes: Int) {
        let bytes = try FileHandle.open(path, writable: false).readAll()
        let base = SegmentFiles.parse(FileSystem.fileName(of: path))?.baseOffset ?? 0
        let entries = bytes.withUnsafeBytes { raw -> [Entry] in
            guard let pointer = raw.baseAddress else { return [] }
            return (0..<(raw.count / size)).map { decode(pointer + $0 * size, base) }
        }
        return (entries, bytes.count % size)
    }
}
