/// Decodes the records of batches, reusing one decompression buffer for all of them.
///
/// A decoder is cheap to keep and not thread-safe: give each consuming thread or task its own.
///
/// ```swift
/// let decoder = RecordDecoder()
/// for batch in result.batches {
///     try decoder.forEachRecord(in: batch) { record in
///         total += record.valueCount ?? 0
///     }
/// }
/// ```
public final class RecordDecoder {
    /// The most bytes one compressed records section may decompress to.
    public let maxDecompressedBytes: Int
    /// Made at the first compressed batch: decoders of uncompressed data never pay for contexts.
    private var decompressor: BatchDecompressor?

    /// A decoder that refuses batches whose records decompress to more than `maxDecompressedBytes`.
    public init(maxDecompressedBytes: Int = 64 * 1024 * 1024) {
        self.maxDecompressedBytes = maxDecompressedBytes
    }

    /// Calls `body` with each record of `batch` in offset order, decoding lazily in place.
    ///
    /// Control batches (transaction markers, KRaft's records) hold no application records and are
    /// skipped, unless `includingControl` (tools that show them: ``ControlRecord`` reads their keys).
    /// - Parameters:
    ///   - batch: the batch to decode.
    ///   - verifyCRC: check the batch's CRC32C first (on by default, as Kafka's consumers do).
    ///   - includingControl: hand out the records of control batches too.
    ///   - body: called with each record, in offset order.
    /// - Throws: ``FormatError`` for malformed bytes (possibly after some records were handed to
    ///   `body`), or whatever `body` throws.
    public func forEachRecord(
        in batch: RecordBatch,
        verifyCRC: Bool = true,
        includingControl: Bool = false,
        _ body: (borrowing RecordView) throws -> Void
    ) throws {
        var failure: (any Error)?
        try withExtendedLifetime(batch.owner) { () throws(FormatError) in
            try iterate(batch, verifyCRC: verifyCRC, includingControl: includingControl) { record in
                do {
                    try body(record)
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
        }
        if let failure { throw failure }
    }

    /// All records of `batch`, copied out.
    public func records(in batch: RecordBatch, verifyCRC: Bool = true) throws(FormatError) -> [LogRecord] {
        var result: [LogRecord] = []
        // The count comes from the bytes: never trust it for an allocation.
        result.reserveCapacity(min(batch.recordCount, batch.byteCount / 7 + 1, 1 << 16))
        try withExtendedLifetime(batch.owner) { () throws(FormatError) in
            try iterate(batch, verifyCRC: verifyCRC) { record in
                result.append(record.logRecord)
                return true
            }
        }
        return result
    }

    /// Calls `body` with each record at or after `offset` and the object that keeps the record's
    /// bytes alive: the batch's owner (its mapping) for uncompressed batches, a private copy of
    /// the decompressed records for compressed ones. Views stay valid while that object lives.
    func iterateRetained(_ batch: RecordBatch, from offset: Int64, verifyCRC: Bool, _ body: (DecodedRecord, AnyObject?) -> Void)
        throws(FormatError)
    {
        let header = batch.header
        if verifyCRC { _ = try RecordBatchHeader.validate(batch.bytes) }
        if header.isControl || header.lastOffset < offset { return }
        let section = UnsafeRawBufferPointer(rebasing: batch.bytes[RecordBatchHeader.size...])
        switch header.compressionCodecValue {
        case CompressionCodec.none.rawValue:
            try Self.iterateRecords(section, header: header) { record in
                if record.offset >= offset { body(record.record, batch.owner) }
                return true
            }
        case let value:
            guard let codec = CompressionCodec(rawValue: value) else { throw .unsupportedCompression(codec: value) }
            let decompressor = self.decompressor ?? BatchDecompressor()
            self.decompressor = decompressor
            let records = try decompressor.decompress(section, codec: codec, limit: maxDecompressedBytes)
            let copy = ByteBuffer(capacity: max(1, records.count))
            // Safe: `copy` holds at least `records.count` bytes.
            if let source = records.baseAddress { copy.base.copyMemory(from: source, byteCount: records.count) }
            try Self.iterateRecords(copy.bytes(count: records.count), header: header) { record in
                if record.offset >= offset { body(record.record, copy) }
                return true
            }
        }
    }

    /// Validates every record of `batch` without handing any out; returns the count.
    func validate(_ batch: RecordBatch) throws(FormatError) -> Int {
        var count = 0
        try iterate(batch, verifyCRC: true) { _ in
            count += 1
            return true
        }
        return count
    }

    /// Iterates the records; `body` returns false to stop early.
    func iterate(
        _ batch: RecordBatch,
        verifyCRC: Bool,
        includingControl: Bool = false,
        _ body: (borrowing RecordView) -> Bool
    ) throws(FormatError) {
        let header = batch.header
        if verifyCRC {
            _ = try RecordBatchHeader.validate(batch.bytes)
        }
        let section = UnsafeRawBufferPointer(rebasing: batch.bytes[RecordBatchHeader.size...])
        let records: UnsafeRawBufferPointer
        switch header.compressionCodecValue {
        case CompressionCodec.none.rawValue:
            records = section
        case let value:
            guard let codec = CompressionCodec(rawValue: value) else { throw .unsupportedCompression(codec: value) }
            let decompressor = self.decompressor ?? BatchDecompressor()
            self.decompressor = decompressor
            records = try decompressor.decompress(section, codec: codec, limit: maxDecompressedBytes)
        }
        if header.isControl && !includingControl { return }
        try Self.iterateRecords(records, header: header, body)
    }

    /// Walks an uncompressed records section, checking every field as Kafka's `DefaultRecord.readFrom` does.
    static func iterateRecords(
        _ section: UnsafeRawBufferPointer,
        header: RecordBatchHeader,
        _ body: (borrowing RecordView) -> Bool
    ) throws(FormatError) {
        var cursor = ByteCursor(section)
        let declared = Int(header.recordCount)
        var index = 0
        var previousOffsetDelta: Int32 = -1
        while index < declared {
            guard !cursor.isAtEnd else { throw .recordCountMismatch(declared: declared, actual: index) }
            let recordStart = cursor.position
            let bodySize = Int(try cursor.readVarint())
            guard bodySize >= 0, bodySize <= cursor.remaining else {
                throw .lengthOutOfBounds(field: "record length", length: bodySize, available: cursor.remaining)
            }
            let start = cursor.position
            _ = try cursor.readByte()  // attributes, unused in v2
            let timestampDelta = try cursor.readVarlong()
            let offsetDelta = try cursor.readVarint()
            // Offsets rise within a batch (compaction leaves gaps, never disorder) and stay inside
            // its range: a record elsewhere would be read at another batch's offset.
            guard offsetDelta > previousOffsetDelta, offsetDelta <= header.lastOffsetDelta else {
                throw .invalidRecord(
                    "offset delta \(offsetDelta) is not after \(previousOffsetDelta) and at most \(header.lastOffsetDelta)")
            }
            previousOffsetDelta = offsetDelta
            let tailStart = cursor.position
            let keyLength = try cursor.readVarint()
            let key = keyLength >= 0 ? try cursor.readBytes(Int(keyLength)) : nil
            let valueLength = try cursor.readVarint()
            let value = valueLength >= 0 ? try cursor.readBytes(Int(valueLength)) : nil
            let headerCount = try cursor.readVarint()
            guard headerCount >= 0, Int(headerCount) <= cursor.remaining else {
                throw .invalidRecord("header count \(headerCount) is invalid")
            }
            let headersStart = cursor.position
            for _ in 0..<headerCount {
                let nameLength = try cursor.readVarint()
                guard nameLength >= 0 else { throw .invalidRecord("header name length \(nameLength) is negative") }
                _ = try cursor.readBytes(Int(nameLength))
                let headerValueLength = try cursor.readVarint()
                if headerValueLength >= 0 { _ = try cursor.readBytes(Int(headerValueLength)) }
            }
            let headerBytes = UnsafeRawBufferPointer(rebasing: section[headersStart..<cursor.position])
            guard cursor.position - start == bodySize else {
                throw .invalidRecord("record body is \(cursor.position - start) bytes, its length says \(bodySize)")
            }
            let record = RecordView(
                DecodedRecord(
                    offset: header.baseOffset &+ Int64(offsetDelta),
                    // LogAppendTime: the broker's append time, the batch's max timestamp, is every
                    // record's timestamp (the deltas keep the producer's create times).
                    timestamp: header.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta,
                    keyBytes: key,
                    valueBytes: value,
                    headerBytes: headerBytes,
                    headerCount: Int(headerCount),
                    rawBytes: UnsafeRawBufferPointer(rebasing: section[recordStart..<cursor.position]),
                    tailBytes: UnsafeRawBufferPointer(rebasing: section[tailStart..<cursor.position]),
                    offsetDelta: offsetDelta
                ))
            index += 1
            if !body(record) { return }
        }
        guard cursor.isAtEnd else { throw .trailingBytes(count: cursor.remaining) }
    }
}
