import CZlib

/// Read-only inspection of segment files, for `dump` and `verify`: never modifies a file, and
/// reports damage instead of repairing it.
public enum SegmentFileInspector {
    /// One batch found in a `.log` file, or the reason the scan stopped.
    public struct BatchEntry: Sendable {
        /// Where the entry starts in the file.
        public var position: Int
        /// The batch's bytes, when whole.
        public var batch: RecordBatch?
        /// The batch's header, when it could be read.
        public var header: RecordBatchHeader?
        /// Whether the stored CRC matches the bytes.
        public var crcValid: Bool
        /// Set when the bytes at `position` are not a valid batch (the scan stops there).
        public var error: String?
        /// Set for a message of Kafka's legacy formats (magic 0 or 1, before record batches),
        /// which segments written by old brokers or clients hold; the scan goes on after it.
        public var legacy: LegacyMessage?
    }

    /// A message in Kafka's legacy format (magic 0 or 1): one record, or a compressed wrapper
    /// whose value holds a compressed message set.
    public struct LegacyMessage: Sendable, Hashable {
        /// The message's offset (the last inner offset for a compressed wrapper).
        public var offset: Int64
        /// 0 or 1: Kafka's formats before record batches.
        public var magic: Int8
        /// The codec of a wrapper message (0 for a plain record).
        public var codec: Int
        /// Magic 1 only; whether it is the append time is bit 3 of the attributes.
        public var timestamp: Int64?
        /// The timestamp is the broker's append time (magic 1).
        public var isLogAppendTime: Bool
        /// The message's key, nil for none.
        public var key: [UInt8]?
        /// The message's value (the compressed inner messages for a wrapper), nil for none.
        public var value: [UInt8]?
        /// The message's CRC32 (IEEE, not CRC32C) matches.
        public var crcValid: Bool
    }

    /// The messages a compressed legacy wrapper holds, with their absolute offsets (magic 1 stores
    /// them relative to the wrapper, whose offset is the last one's).
    ///
    /// - Throws: ``FormatError`` when the wrapper's value does not decompress or its messages do
    ///   not parse (the LZ4 framing of magic 0, whose header checksum Kafka computed wrongly, is
    ///   among them).
    public static func innerMessages(of wrapper: LegacyMessage, maxDecompressedBytes: Int = 64 << 20) throws(FormatError) -> [LegacyMessage]
    {
        guard let codec = CompressionCodec(rawValue: wrapper.codec), codec != .none, let value = wrapper.value else { return [] }
        let decompressor = BatchDecompressor()
        let inner = try value.withUnsafeBytes { raw in
            Result { () throws(FormatError) -> [UInt8] in Array(try decompressor.decompress(raw, codec: codec, limit: maxDecompressedBytes))
            }
        }.get()
        var messages = try inner.withUnsafeBytes { bytes in
            Result { () throws(FormatError) -> [LegacyMessage] in
                var messages: [LegacyMessage] = []
                var position = 0
                while position < bytes.count {
                    guard bytes.count - position >= 12, let base = bytes.baseAddress else {
                        throw .truncated(position: position, needed: 12, available: bytes.count - position)
                    }
                    let total = 12 + Int(BigEndian.load(base + position, 8, as: Int32.self))
                    guard total > 12, let message = legacyMessage(bytes, at: position, total: total) else {
                        throw .invalidRecord("inner legacy message at byte \(position) does not parse")
                    }
                    messages.append(message)
                    position += total
                }
                return messages
            }
        }.get()
        if wrapper.magic == 1, let last = messages.last {
            let shift = wrapper.offset - last.offset
            for index in messages.indices { messages[index].offset += shift }
        }
        return messages
    }

    /// The legacy message at `position` of `bytes` (whose `size` field says it takes `total`
    /// bytes), or nil when its fields do not fit.
    static func legacyMessage(_ bytes: UnsafeRawBufferPointer, at position: Int, total: Int) -> LegacyMessage? {
        guard let base = bytes.baseAddress, total >= 12 + 4 + 1 + 1 + 4 + 4, position + total <= bytes.count else { return nil }
        let start = base + position
        let magic = Int8(bitPattern: start.load(fromByteOffset: 16, as: UInt8.self))
        let attributes = start.load(fromByteOffset: 17, as: UInt8.self)
        var cursor = 18
        var timestamp: Int64?
        if magic == 1 {
            guard cursor + 8 <= total else { return nil }
            timestamp = BigEndian.load(start, cursor, as: Int64.self)
            cursor += 8
        }
        func field() -> [UInt8]?? {
            guard cursor + 4 <= total else { return .none }
            let length = Int(BigEndian.load(start, cursor, as: Int32.self))
            cursor += 4
            if length < 0 { return .some(nil) }
            guard length <= total - cursor else { return .none }
            defer { cursor += length }
            return .some(Array(UnsafeRawBufferPointer(start: start + cursor, count: length)))
        }
        guard let key = field(), let value = field(), cursor == total else { return nil }
        let stored = BigEndian.load(start, 12, as: UInt32.self)
        let computed = UInt32(crc32(0, (start + 16).assumingMemoryBound(to: Bytef.self), uInt(total - 16)))
        return LegacyMessage(
            offset: BigEndian.load(start, 0, as: Int64.self), magic: magic, codec: Int(attributes & 0x07), timestamp: timestamp,
            isLogAppendTime: attributes & 0x08 != 0, key: key, value: value, crcValid: stored == computed)
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
        var scanner = BatchScanner(bytes)
        while scanner.remaining > 0 {
            let position = scanner.position
            // Legacy messages share the framing (offset, size) and the magic's place with batches.
            if size - position >= 17, bytes[position + 16] <= 1 {
                let total = 12 + Int(BigEndian.load(region.base + position, 8, as: Int32.self))
                if total > 12, let message = legacyMessage(bytes, at: position, total: total) {
                    entries.append(
                        BatchEntry(
                            position: position, batch: nil, header: nil, crcValid: message.crcValid,
                            error: message.crcValid ? nil : "CRC mismatch", legacy: message))
                    scanner.skip(bytes: total)
                    continue
                }
            }
            guard let entry = scanner.next() else {
                // Zeros to the end are space preallocated ahead of a live writer, not damage.
                if let failure = scanner.failure, !scanner.restIsZero {
                    entries.append(BatchEntry(position: position, batch: nil, header: nil, crcValid: false, error: "\(failure)"))
                }
                break
            }
            let slice = region.bytes(from: position, count: entry.header.totalSize)
            let crcValid = (try? RecordBatchHeader.validate(slice)) != nil
            entries.append(
                BatchEntry(
                    position: position, batch: RecordBatch(owner: region, bytes: slice, header: entry.header),
                    header: entry.header, crcValid: crcValid, error: crcValid ? nil : "CRC mismatch"))
        }
        return entries
    }

    /// The entries of a `.index` file as `(offset, position)`; the base offset comes from the name.
    public static func offsetIndexEntries(path: String) throws(ReservoirError) -> (
        entries: [(offset: Int64, position: Int)], partialBytes: Int
    ) {
        try entries(path: path, size: OffsetIndex.entrySize) { entry, base in
            (base + Int64(BigEndian.load(entry, 0, as: UInt32.self)), Int(BigEndian.load(entry, 4, as: UInt32.self)))
        }
    }

    /// The entries of a `.timeindex` file as `(timestamp, offset)`.
    public static func timeIndexEntries(path: String) throws(ReservoirError) -> (
        entries: [(timestamp: Int64, offset: Int64)], partialBytes: Int
    ) {
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
