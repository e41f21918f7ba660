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
    private(set) var maxTimestamp: Int64
    /// Bytes of the records section before compression (the byte count less the header when
    /// uncompressed).
    let uncompressedRecordsBytes: Int
    /// The idempotent producer that sent the batch (a client's batch with a producer id).
    let producer: Producer?

    /// An idempotent producer's identity and the batch's first sequence number.
    struct Producer {
        var id: Int64
        var epoch: Int16
        var firstSequence: Int32
    }

    /// The batch an encoder last completed, described by `summary`.
    init(_ encoder: RecordBatchEncoder, _ summary: RecordBatchEncoder.Summary) {
        buffer = encoder.output
        byteCount = summary.byteCount
        recordCount = summary.recordCount
        offsetCount = summary.recordCount
        maxTimestamp = summary.maxTimestamp
        uncompressedRecordsBytes = summary.uncompressedRecordsBytes
        producer = nil
    }

    /// A batch encoded elsewhere (a Kafka client's), copied and checked whole as Kafka's log
    /// validator checks a client's batch: framing, magic 2, CRC32C, a length that is exactly the
    /// bytes given, a record count that is its offset range (no gaps, none empty), and neither a
    /// control nor a transactional batch (markers come from a transaction coordinator, which
    /// this store does not run).
    ///
    /// - Throws: ``FormatError`` naming what is wrong; nothing is kept.
    init(validating bytes: UnsafeRawBufferPointer) throws(FormatError) {
        let header = try RecordBatchHeader.validate(bytes, verifyCRC: true)
        guard header.totalSize == bytes.count else { throw .trailingBytes(count: bytes.count - header.totalSize) }
        guard header.recordCount > 0, Int64(header.recordCount) == Int64(header.lastOffsetDelta) + 1 else {
            throw .invalidRecord("a batch of \(header.recordCount) records over an offset range of \(Int64(header.lastOffsetDelta) + 1)")
        }
        guard !header.isControl, !header.isTransactional else {
            throw .invalidRecord("a \(header.isControl ? "control" : "transactional") batch; this store runs no transactions")
        }
        buffer = ByteBuffer(capacity: bytes.count)
        // Safe: the buffer was just allocated with at least `bytes.count` bytes.
        if let source = bytes.baseAddress { buffer.base.copyMemory(from: source, byteCount: bytes.count) }
        byteCount = bytes.count
        recordCount = Int(header.recordCount)
        offsetCount = Int(header.lastOffsetDelta) + 1
        maxTimestamp = header.maxTimestamp
        uncompressedRecordsBytes = header.compression == CompressionCodec.none ? bytes.count - RecordBatchHeader.size : 0
        if header.producerId >= 0 {
            guard header.producerEpoch >= 0, header.baseSequence >= 0 else {
                throw .invalidRecord("producer \(header.producerId) sent epoch \(header.producerEpoch), sequence \(header.baseSequence)")
            }
            producer = Producer(id: header.producerId, epoch: header.producerEpoch, firstSequence: header.baseSequence)
        } else {
            producer = nil
        }
    }

    /// Sets the header's largest timestamp to the one its records hold, as Kafka's log validator
    /// does, and the CRC with it: retention and the time index go by this field, so a client's
    /// wrong value must not make its records look older or newer than they are. Only for a batch
    /// this value owns (``init(validating:)`` copies the client's bytes).
    mutating func correctMaxTimestamp(_ timestamp: Int64) {
        guard timestamp != maxTimestamp else { return }
        maxTimestamp = timestamp
        // Safe: the buffer holds the whole batch, header included, `byteCount` bytes.
        BigEndian.store(timestamp, buffer.base, RecordBatchHeader.Field.maxTimestamp)
        let covered = UnsafeRawBufferPointer(
            start: buffer.base + RecordBatchHeader.Field.attributes, count: byteCount - RecordBatchHeader.Field.attributes)
        BigEndian.store(CRC32C.checksum(covered), buffer.base, RecordBatchHeader.Field.crc)
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
