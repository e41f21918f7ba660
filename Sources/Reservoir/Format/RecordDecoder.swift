/// Decodes the records of batches, reusing one decompression buffer for all of them.
///
/// A decoder is cheap to keep and not thread-safe: give each consuming thread or task its own.
///
/// ```swift
/// let decoder = RecordDecoder()
/// try decoder.forEachRecord(in: result.batches) { record in
///     total += record.valueCount ?? 0
/// }
/// ```
public final class RecordDecoder {
    /// The most bytes one compressed records section may decompress to.
    public let maxDecompressedBytes: Int
    /// Made at the first compressed batch: decoders of uncompressed data never pay for contexts.
    private var decompressor: BatchDecompressor?
    /// The checksum of the batch announced as the next one, once computed in full.
    @usableFromInline var checkedAhead: ChecksumAhead?
    /// Whether the batch announced as the next one is checked while the current one is decoded,
    /// or on its own turn, in one pass: the faster of the two on this processor (see
    /// ``ChecksumAhead``).
    @usableFromInline var checksAhead = !CRC32C.foldsCarrylessly

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
    @inlinable
    public func forEachRecord(
        in batch: RecordBatch,
        verifyCRC: Bool = true,
        includingControl: Bool = false,
        _ body: (borrowing RecordView) throws -> Void
    ) throws {
        try forEachRecord(in: batch, checkingAhead: nil, verifyCRC: verifyCRC, includingControl: includingControl, body)
    }

    /// Calls `body` with each record of `batch` in offset order, as
    /// ``forEachRecord(in:verifyCRC:includingControl:_:)`` does, and checks the CRC of `next`
    /// on the way, a little after each record, so that decoding `next` afterwards does not wait
    /// for its check.
    ///
    /// Sequential readers pass the batch they will decode next: the checksum's memory loads
    /// and arithmetic then overlap the decoding of this batch instead of following it. The
    /// result is kept for `next` alone (the same bytes of the same mapping), and `next` is
    /// still reported damaged, before any of its records is handed out, when its CRC does not
    /// match.
    /// - Parameters:
    ///   - batch: the batch to decode.
    ///   - next: the batch to decode after it, or nil.
    ///   - verifyCRC: check the batches' CRC32C (on by default, as Kafka's consumers do).
    ///   - includingControl: hand out the records of control batches too.
    ///   - body: called with each record, in offset order.
    @inlinable
    public func forEachRecord(
        in batch: RecordBatch,
        checkingAhead next: RecordBatch?,
        verifyCRC: Bool = true,
        includingControl: Bool = false,
        _ body: (borrowing RecordView) throws -> Void
    ) throws {
        // Inlined into the caller with `body`, so that the loop over records makes no call per
        // record: the checks and the decompression stay out of line.
        guard let section = try records(of: batch, verifyCRC: verifyCRC, includingControl: includingControl) else { return }
        var ahead = verifyCRC && checksAhead ? next.flatMap { ChecksumAhead($0, sectionSize: section.count) } : nil
        try withExtendedLifetime(batch.owner) { () throws in
            var cursor = RecordCursor(section, header: batch.header)
            while let record = try cursor.next() {
                ahead?.advance(to: cursor.position)
                try body(RecordView(record))
            }
        }
        if var ahead {
            _ = ahead.finish()
            checkedAhead = ahead
        }
    }

    /// Calls `body` with each record of `batches` in order, checking each batch's CRC while the
    /// one before it is decoded (see ``forEachRecord(in:checkingAhead:verifyCRC:includingControl:_:)``).
    @inlinable
    public func forEachRecord(
        in batches: [RecordBatch],
        verifyCRC: Bool = true,
        includingControl: Bool = false,
        _ body: (borrowing RecordView) throws -> Void
    ) throws {
        for index in batches.indices {
            let next = index + 1 < batches.count ? batches[index + 1] : nil
            try forEachRecord(in: batches[index], checkingAhead: next, verifyCRC: verifyCRC, includingControl: includingControl, body)
        }
    }

    /// The records section of `batch`, decompressed when it is compressed (into this decoder's
    /// buffer, valid until its next batch), after the CRC check; `nil` for a control batch
    /// unless `includingControl`.
    @usableFromInline
    func records(of batch: RecordBatch, verifyCRC: Bool, includingControl: Bool) throws(FormatError) -> UnsafeRawBufferPointer? {
        let header = batch.header
        if verifyCRC {
            if let ahead = checkedAhead.take(), ahead.isChecksum(of: batch) {
                // Checked while the batch before was decoded: the same bytes of the same memory.
                let stored = try RecordBatchHeader.validate(batch.bytes, verifyCRC: false).crc
                guard ahead.crc == stored else { throw .badCRC(stored: stored, computed: ahead.crc) }
            } else {
                _ = try RecordBatchHeader.validate(batch.bytes)
            }
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
        if header.isControl && !includingControl { return nil }
        return records
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
        if header.isControl || header.lastOffset < offset {
            // Nothing to hand out, and nothing to decompress; the CRC is still checked.
            if verifyCRC { _ = try RecordBatchHeader.validate(batch.bytes) }
            return
        }
        guard let records = try records(of: batch, verifyCRC: verifyCRC, includingControl: false) else { return }
        if header.compressionCodecValue == CompressionCodec.none.rawValue {
            try Self.iterateRecords(records, header: header) { record in
                if record.offset >= offset { body(record.record, batch.owner) }
                return true
            }
            return
        }
        // Decompressed records live in this decoder's buffer until its next batch: the views get a copy of their own.
        let copy = ByteBuffer(capacity: max(1, records.count))
        // Safe: `copy` holds at least `records.count` bytes.
        if let source = records.baseAddress { copy.base.copyMemory(from: source, byteCount: records.count) }
        try Self.iterateRecords(copy.bytes(count: records.count), header: header) { record in
            if record.offset >= offset { body(record.record, copy) }
            return true
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
        guard let records = try records(of: batch, verifyCRC: verifyCRC, includingControl: includingControl) else { return }
        try Self.iterateRecords(records, header: batch.header, body)
    }

    /// Walks an uncompressed records section (see ``RecordCursor``); `body` returns false to stop early.
    static func iterateRecords(
        _ section: UnsafeRawBufferPointer,
        header: RecordBatchHeader,
        _ body: (borrowing RecordView) -> Bool
    ) throws(FormatError) {
        var cursor = RecordCursor(section, header: header)
        while let record = try cursor.next() {
            if !body(RecordView(record)) { return }
        }
    }
}
