/// Writes a batch that keeps some of the records of a source batch, as log compaction does.
///
/// The new batch keeps the source's base offset, offset range (`lastOffsetDelta`), producer
/// fields and timestamp type, so that surviving records keep their offsets and a log's offset
/// ranges do not move. Records are copied as encoded; only when the base timestamp changes (a
/// delete horizon is stamped) is each record's timestamp delta re-encoded, the rest of it still
/// copied. The records are compressed with the rewriter's codec.
final class BatchRewriter {
    let encoder: RecordBatchEncoder
    private var source = RecordBatchHeader.empty
    private var baseTimestamp: Int64 = 0
    private var deleteHorizon: Int64?
    private var position = 0
    private(set) var count = 0
    private var maxTimestamp = Int64.min
    private var maxTimestampDelta: Int32 = 0

    init(compression: CompressionCodec, compressionLevel: Int) throws(ReservoirError) {
        encoder = try RecordBatchEncoder(compression: compression, compressionLevel: compressionLevel)
    }

    /// Starts a batch from `source`. With a `deleteHorizon`, the batch is marked as Kafka marks
    /// batches whose tombstones may be removed once that time (ms) has passed: attribute bit 6
    /// set and the horizon stored as the base timestamp.
    func begin(_ source: RecordBatchHeader, deleteHorizon: Int64?) {
        self.source = source
        self.deleteHorizon = deleteHorizon
        baseTimestamp = deleteHorizon ?? source.baseTimestamp
        position = encoder.recordsStart
        count = 0
        maxTimestamp = .min
        maxTimestampDelta = 0
    }

    /// Copies `record` (a record of the source batch) into the batch.
    func keep(_ record: DecodedRecord) {
        let target = encoder.recordsTarget
        if baseTimestamp == source.baseTimestamp {
            let bytes = record.rawBytes
            target.reserve(position + bytes.count, preserving: position)
            // Safe: `reserve` made `bytes.count` bytes writable at `position`.
            if let from = bytes.baseAddress { (target.base + position).copyMemory(from: from, byteCount: bytes.count) }
            position += bytes.count
        } else {
            let timestampDelta = record.timestamp &- baseTimestamp
            let body = 1 + Varint.size(timestampDelta) + Varint.size(record.offsetDelta) + record.tailBytes.count
            let total = Varint.size(Int32(truncatingIfNeeded: body)) + body
            target.reserve(position + total, preserving: position)
            // Safe: `reserve` made `total` bytes writable at `position`; the writes below add up to it.
            var pointer = target.base + position
            pointer += Varint.write(Int32(truncatingIfNeeded: body), to: pointer)
            pointer.storeBytes(of: 0, as: UInt8.self)
            pointer += 1
            pointer += Varint.write(timestampDelta, to: pointer)
            pointer += Varint.write(record.offsetDelta, to: pointer)
            if let from = record.tailBytes.baseAddress { pointer.copyMemory(from: from, byteCount: record.tailBytes.count) }
            position += total
        }
        if record.timestamp > maxTimestamp {
            maxTimestamp = record.timestamp
            maxTimestampDelta = record.offsetDelta
        }
        count += 1
    }

    /// Completes the batch (at least one record kept) and returns its bytes, valid until the
    /// next `begin`.
    func finish() -> UnsafeRawBufferPointer {
        // Keep the timestamp type and transaction bits; the codec is the rewriter's.
        var attributes = source.attributes & 0x38
        if deleteHorizon != nil { attributes |= 0x40 }
        let summary = encoder.finish(
            recordsEnd: position, count: count, baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            maxTimestampDelta: maxTimestampDelta, baseOffset: source.baseOffset,
            partitionLeaderEpoch: source.partitionLeaderEpoch,
            producer: .init(producerId: source.producerId, producerEpoch: source.producerEpoch, baseSequence: source.baseSequence),
            extraAttributes: attributes, lastOffsetDelta: source.lastOffsetDelta)
        return encoder.output.bytes(count: summary.byteCount)
    }

    /// A batch with no records that keeps `source`'s offset range, as Kafka writes one when
    /// compaction removes every record of the last batch of a segment: it keeps the log's end
    /// where it was. Uncompressed, as Kafka's empty batches are.
    static func emptyBatch(like source: RecordBatchHeader) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: RecordBatchHeader.size)
        bytes.withUnsafeMutableBytes { buffer in
            // Safe: the array holds exactly the 61 header bytes these stores write.
            guard let base = buffer.baseAddress else { return }
            BigEndian.store(source.baseOffset, base, RecordBatchHeader.Field.baseOffset)
            BigEndian.store(Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead), base, RecordBatchHeader.Field.batchLength)
            BigEndian.store(source.partitionLeaderEpoch, base, RecordBatchHeader.Field.partitionLeaderEpoch)
            base.storeBytes(of: UInt8(RecordBatchHeader.currentMagic), toByteOffset: RecordBatchHeader.Field.magic, as: UInt8.self)
            BigEndian.store(source.attributes & 0x38, base, RecordBatchHeader.Field.attributes)
            BigEndian.store(source.lastOffsetDelta, base, RecordBatchHeader.Field.lastOffsetDelta)
            BigEndian.store(source.baseTimestamp, base, RecordBatchHeader.Field.baseTimestamp)
            BigEndian.store(source.maxTimestamp, base, RecordBatchHeader.Field.maxTimestamp)
            BigEndian.store(source.producerId, base, RecordBatchHeader.Field.producerId)
            BigEndian.store(source.producerEpoch, base, RecordBatchHeader.Field.producerEpoch)
            BigEndian.store(source.baseSequence, base, RecordBatchHeader.Field.baseSequence)
            BigEndian.store(Int32(0), base, RecordBatchHeader.Field.recordCount)
            let crc = CRC32C.checksum(
                UnsafeRawBufferPointer(
                    start: base + RecordBatchHeader.Field.attributes, count: RecordBatchHeader.size - RecordBatchHeader.Field.attributes))
            BigEndian.store(crc, base, RecordBatchHeader.Field.crc)
        }
        return bytes
    }
}

extension RecordBatchHeader {
    static let empty = RecordBatchHeader(
        baseOffset: 0, batchLength: 0, partitionLeaderEpoch: 0, magic: currentMagic, crc: 0, attributes: 0,
        lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0, producerId: -1, producerEpoch: -1, baseSequence: -1,
        recordCount: 0)
}
