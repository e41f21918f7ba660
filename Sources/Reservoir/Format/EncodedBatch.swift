/// One complete record batch, ready for a log to append: its bytes and the facts the log needs
/// to assign its offsets.
///
/// The only form in which batches reach a log, whoever produced them: an encoder (records, a
/// builder, a producer) or a client that sent a batch it encoded itself (``init(validating:)``).
/// The bytes live in a buffer the batch shares with the encoder that wrote them (valid until that
/// encoder encodes again: append before reusing it). The log writes the base offset into them, the
/// one field outside the CRC, and copies them into the segment.
struct EncodedBatch {
    private let buffer: ByteBuffer
    /// The batch's size in bytes, header included.
    let byteCount: Int
    /// Records the batch holds.
    let recordCount: Int
    /// Offsets the batch takes: its last offset delta + 1 (the record count, for batches this
    /// module encodes).
    let offsetCount: Int
    /// The largest record timestamp.
    let maxTimestamp: Int64
    /// Bytes of the records section before compression (the byte count less the header when
    /// uncompressed).
    let uncompressedRecordsBytes: Int

    /// The batch an encoder last completed, described by `summary`.
    init(_ encoder: RecordBatchEncoder, _ summary: RecordBatchEncoder.Summary) {
        buffer = encoder.output
        byteCount = summary.byteCount
        recordCount = summary.recordCount
        offsetCount = summary.recordCount
        maxTimestamp = summary.maxTimestamp
        uncompressedRecordsBytes = summary.uncompressedRecordsBytes
    }

    /// A batch encoded elsewhere (a Kafka client's), copied and checked whole: framing, magic 2,
    /// CRC32C, and a length that is exactly the bytes given.
    ///
    /// - Throws: ``FormatError`` naming what is wrong; nothing is kept.
    init(validating bytes: UnsafeRawBufferPointer) throws(FormatError) {
        let header = try RecordBatchHeader.validate(bytes, verifyCRC: true)
        guard header.totalSize == bytes.count else { throw .trailingBytes(count: bytes.count - header.totalSize) }
        buffer = ByteBuffer(capacity: bytes.count)
        // Safe: the buffer was just allocated with at least `bytes.count` bytes.
        if let source = bytes.baseAddress { buffer.base.copyMemory(from: source, byteCount: bytes.count) }
        byteCount = bytes.count
        recordCount = Int(header.recordCount)
        offsetCount = Int(header.lastOffsetDelta) + 1
        maxTimestamp = header.maxTimestamp
        uncompressedRecordsBytes = header.compression == CompressionCodec.none ? bytes.count - RecordBatchHeader.size : 0
    }

    /// Writes the batch's base offset (the log does, as it assigns offsets).
    func stamp(baseOffset: Int64) {
        // Safe: every batch holds at least its 61-byte header.
        BigEndian.store(baseOffset, buffer.base, RecordBatchHeader.Field.baseOffset)
    }

    /// Calls `body` with the batch's bytes, valid only during the call.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(buffer.bytes(count: byteCount))
    }
}
