/// Encodes records into Kafka record batches v2, byte for byte as Kafka's producer writes them.
///
/// An encoder owns its output and compression buffers and reuses them for every batch, so a
/// steady stream of appends allocates nothing here. It is not thread-safe: one per producer.
public final class RecordBatchEncoder {
    /// Producer identity written into the header; Reservoir's own appends use "none" (-1).
    public struct ProducerFields: Sendable, Hashable {
        /// The idempotent producer's id, -1 for none.
        public var producerId: Int64
        /// Its epoch, -1 for none.
        public var producerEpoch: Int16
        /// The sequence number of the batch's first record, -1 for none.
        public var baseSequence: Int32

        /// Producer fields; the defaults mean no idempotent producer.
        public init(producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1) {
            self.producerId = producerId
            self.producerEpoch = producerEpoch
            self.baseSequence = baseSequence
        }
    }

    /// The codec batches are compressed with.
    public let compression: CompressionCodec
    /// The codec's level (0: its default).
    public let compressionLevel: Int
    /// Records whose encoded size exceeds this are refused before anything is encoded further.
    public var maxRecordBytes: Int = .max
    let output = ByteBuffer(capacity: 256 * 1024)
    private let scratch: ByteBuffer?
    private let compressor: BatchCompressor?

    /// An encoder that compresses with `compression`, reusing its buffers from batch to batch.
    ///
    /// - Parameters:
    ///   - compression: any of Kafka's codecs: `.none`, `.gzip`, `.snappy`, `.lz4`, `.zstd`.
    ///   - compressionLevel: the codec's level; 0 (the default) takes the codec's default: LZ4's
    ///     fast mode (3 to 12 select LZ4-HC), gzip 6, zstd 3; snappy has no levels.
    public init(compression: CompressionCodec = .none, compressionLevel: Int = 0) throws(ReservoirError) {
        self.compression = compression
        self.compressionLevel = compressionLevel
        if compression != .none {
            scratch = ByteBuffer(capacity: 256 * 1024)
            compressor = BatchCompressor(codec: compression, level: compressionLevel)
        } else {
            scratch = nil
            compressor = nil
        }
    }

    /// Facts about the batch last encoded.
    public struct Summary: Sendable, Hashable {
        /// The encoded batch's size in bytes.
        public var byteCount: Int
        /// Records in the batch.
        public var recordCount: Int
        /// The largest record timestamp in the batch (epoch milliseconds).
        public var maxTimestamp: Int64
        /// The first offset whose record has `maxTimestamp`, relative to the base offset.
        public var offsetDeltaOfMaxTimestamp: Int32
        /// Bytes of the uncompressed records section.
        public var uncompressedRecordsBytes: Int
    }

    /// Encodes `records` into the encoder's buffer and returns a summary; the bytes are then
    /// available through ``withEncodedBytes(_:)`` until the next call.
    ///
    /// - Parameters:
    ///   - records: the records of the batch, in offset order.
    ///   - baseOffset: the first record's offset (a log overwrites it when it assigns offsets; it is
    ///     outside the CRC).
    ///   - defaultTimestamp: the timestamp of records whose own is `nil`.
    ///   - partitionLeaderEpoch: stamped as Kafka's leader does; 0 for a store with one writer.
    ///   - producer: an idempotent producer's id, epoch and first sequence (none by default).
    /// - Throws: ``ReservoirError`` when `records` is empty or holds more than `Int32.max` records.
    @discardableResult
    public func encode(
        _ records: some Collection<Record>,
        baseOffset: Int64 = 0,
        defaultTimestamp: Int64,
        partitionLeaderEpoch: Int32 = 0,
        producer: ProducerFields = ProducerFields()
    ) throws(ReservoirError) -> Summary {
        // One dispatch per batch to concrete code over a borrowed array: a generic loop would go
        // through witness tables and copy every record (measured: 72 ns/record against 31).
        let array = records as? [Record] ?? Array(records)
        return try encodeArray(
            array, baseOffset: baseOffset, defaultTimestamp: defaultTimestamp,
            partitionLeaderEpoch: partitionLeaderEpoch, producer: producer)
    }

    private func encodeArray(
        _ records: borrowing [Record],
        baseOffset: Int64,
        defaultTimestamp: Int64,
        partitionLeaderEpoch: Int32,
        producer: ProducerFields
    ) throws(ReservoirError) -> Summary {
        let count = records.count
        guard count > 0 else { throw ReservoirError(.invalidArgument, "a batch needs at least one record") }
        guard count <= Int(Int32.max) else {
            throw ReservoirError(.recordTooLarge, "a batch holds at most \(Int32.max) records, not \(count)")
        }
        let baseTimestamp = records.first?.timestamp ?? defaultTimestamp
        var maxTimestamp = Int64.min
        var maxTimestampDelta: Int32 = 0

        // Uncompressed records go straight after the header; LZ4 records go to scratch first.
        let target = scratch ?? output
        var position = scratch == nil ? RecordBatchHeader.size : 0
        try records.withUnsafeBufferPointer { (buffer) throws(ReservoirError) in
            guard var record = buffer.baseAddress else { return }
            var delta: Int32 = 0
            // Safe: `pointer..<end` is the target's writable memory past what is written, and a
            // record is written only after its exact size fits in it (the target grows otherwise).
            var pointer = target.base + position
            var end = target.base + target.capacity
            for _ in 0..<count {
                let timestamp = record.pointee.timestamp ?? defaultTimestamp
                if timestamp > maxTimestamp {
                    maxTimestamp = timestamp
                    maxTimestampDelta = delta
                }
                let timestampDelta = timestamp &- baseTimestamp
                let (total, body) = RecordWriter.encodedSize(at: record, timestampDelta: timestampDelta, offsetDelta: delta)
                guard total <= maxRecordBytes, total <= RecordWriter.maxRecordBytes else {
                    throw ReservoirError(
                        .recordTooLarge,
                        "record \(delta) of the batch is \(total) bytes encoded, over the limit of \(min(maxRecordBytes, RecordWriter.maxRecordBytes)); nothing was written"
                    )
                }
                if end - pointer < total {
                    let written = pointer - target.base
                    target.grow(to: written + total, preserving: written)
                    pointer = target.base + written
                    end = target.base + target.capacity
                }
                pointer = RecordWriter.write(record, timestampDelta: timestampDelta, offsetDelta: delta, body: body, to: pointer)
                delta &+= 1
                record += 1
            }
            position = pointer - target.base
        }

        return finish(
            recordsEnd: position, count: count, baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            maxTimestampDelta: maxTimestampDelta, baseOffset: baseOffset,
            partitionLeaderEpoch: partitionLeaderEpoch, producer: producer)
    }

    /// Where records are written: after the header in the output, or at the start of the
    /// scratch buffer when they are compressed afterwards.
    var recordsTarget: ByteBuffer { scratch ?? output }
    var recordsStart: Int { scratch == nil ? RecordBatchHeader.size : 0 }

    /// Completes a batch whose records lie in ``recordsTarget`` up to `position`: compression,
    /// header, CRC.
    func finish(
        recordsEnd position: Int,
        count: Int,
        baseTimestamp: Int64,
        maxTimestamp: Int64,
        maxTimestampDelta: Int32,
        baseOffset: Int64,
        partitionLeaderEpoch: Int32,
        producer: ProducerFields,
        extraAttributes: Int16 = 0,
        lastOffsetDelta: Int32? = nil
    ) -> Summary {
        var size: Int
        let uncompressed: Int
        if let scratch, let compressor {
            uncompressed = position
            let bound = compressor.bound(position)
            output.reserve(RecordBatchHeader.size + bound)
            size =
                RecordBatchHeader.size
                + compressor.compress(
                    scratch.bytes(count: position), into: output.base + RecordBatchHeader.size, capacity: bound)
        } else {
            size = position
            uncompressed = position - RecordBatchHeader.size
        }

        let base = output.base
        BigEndian.store(baseOffset, base, RecordBatchHeader.Field.baseOffset)
        BigEndian.store(
            Int32(truncatingIfNeeded: size - RecordBatchHeader.logOverhead), base,
            RecordBatchHeader.Field.batchLength)
        BigEndian.store(partitionLeaderEpoch, base, RecordBatchHeader.Field.partitionLeaderEpoch)
        base.storeBytes(of: UInt8(RecordBatchHeader.currentMagic), toByteOffset: RecordBatchHeader.Field.magic, as: UInt8.self)
        BigEndian.store(Int16(compression.rawValue) | extraAttributes, base, RecordBatchHeader.Field.attributes)
        BigEndian.store(lastOffsetDelta ?? Int32(count - 1), base, RecordBatchHeader.Field.lastOffsetDelta)
        BigEndian.store(baseTimestamp, base, RecordBatchHeader.Field.baseTimestamp)
        BigEndian.store(maxTimestamp, base, RecordBatchHeader.Field.maxTimestamp)
        BigEndian.store(producer.producerId, base, RecordBatchHeader.Field.producerId)
        BigEndian.store(producer.producerEpoch, base, RecordBatchHeader.Field.producerEpoch)
        BigEndian.store(producer.baseSequence, base, RecordBatchHeader.Field.baseSequence)
        BigEndian.store(Int32(count), base, RecordBatchHeader.Field.recordCount)
        let crc = CRC32C.checksum(
            UnsafeRawBufferPointer(
                start: base + RecordBatchHeader.Field.attributes, count: size - RecordBatchHeader.Field.attributes))
        BigEndian.store(crc, base, RecordBatchHeader.Field.crc)
        lastSize = size
        return Summary(
            byteCount: size, recordCount: count, maxTimestamp: maxTimestamp,
            offsetDeltaOfMaxTimestamp: maxTimestampDelta, uncompressedRecordsBytes: uncompressed)
    }

    private(set) var lastSize = 0

    /// Calls `body` with the bytes of the batch last encoded.
    public func withEncodedBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(output.bytes(count: lastSize))
    }

    /// Encodes `records` and returns a copy of the batch's bytes.
    public func encodedBytes(
        _ records: some Collection<Record>,
        baseOffset: Int64 = 0,
        defaultTimestamp: Int64,
        partitionLeaderEpoch: Int32 = 0,
        producer: ProducerFields = ProducerFields()
    ) throws(ReservoirError) -> [UInt8] {
        try encode(
            records, baseOffset: baseOffset, defaultTimestamp: defaultTimestamp,
            partitionLeaderEpoch: partitionLeaderEpoch, producer: producer)
        return withEncodedBytes { Array($0) }
    }
}
