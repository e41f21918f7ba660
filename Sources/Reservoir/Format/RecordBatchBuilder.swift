/// Builds one record batch in place, record by record, for the fastest appends.
///
/// Each `append(key:value:headers:timestamp:)` encodes its record straight into the batch's
/// buffer, so a producer that reuses one builder allocates nothing per record and never
/// materialises ``Record`` values. Hand the builder to `Reservoir.append(to:batch:partition:acks:)`
/// (or to ``BatchProducer/send(_:partition:)``, which writes it on a thread of its own); after a
/// successful append it is empty again, ready for the next batch.
///
/// ```swift
/// let batch = try store.makeBatchBuilder(for: "orders")
/// for order in orders { try batch.append(key: order.userID, value: order.json) }
/// try store.append(to: "orders", batch: batch, partition: 0, acks: .buffered)
/// ```
///
/// All records of a builder go to one partition together. A builder is not thread-safe.
public final class RecordBatchBuilder {
    /// Holds the records; replaced by ``take(leaving:)``, which hands these records on.
    private(set) var encoder: RecordBatchEncoder

    /// Everything an append changes, in one value.
    ///
    /// Usable from inlined code, as is the append that changes it: a caller's loop of appends
    /// then compiles into one loop, with no call per record.
    @usableFromInline
    struct Progress {
        @usableFromInline var count = 0
        @usableFromInline var position: Int
        /// The start and size of `encoder.recordsTarget`, copied here so that an append reaches
        /// its bytes without touching (and retaining) the buffer object. Invariant: refreshed
        /// whenever that buffer grows or the encoder is replaced.
        @usableFromInline var base: UnsafeMutableRawPointer
        @usableFromInline var capacity: Int
        @usableFromInline var baseTimestamp: Int64 = 0
        @usableFromInline var startedAt: Int64 = 0
        @usableFromInline var maxTimestamp = Int64.min
        @usableFromInline var maxTimestampDelta: Int32 = 0
        @usableFromInline var largestRecordBytes = 0
        @usableFromInline var unkeyedCount = 0

        init(_ encoder: RecordBatchEncoder) {
            position = encoder.recordsStart
            base = encoder.recordsTarget.base
            capacity = encoder.recordsTarget.capacity
        }
    }

    // Unchecked: a builder is used by one thread at a time, and no access to the value spans
    // a call that could reach it again, so the runtime's exclusivity check (one per field an
    // append touches, in code inlined into other modules) would guard nothing.
    @exclusivity(unchecked) @usableFromInline var progress: Progress

    /// Records appended so far.
    public var count: Int { progress.count }
    /// The largest encoded record so far, checked against a topic's limit before anything is written.
    var largestRecordBytes: Int { progress.largestRecordBytes }
    /// Records appended without a key (refused by compacted topics).
    var unkeyedCount: Int { progress.unkeyedCount }
    private var position: Int { progress.position }

    /// The codec of the batches built.
    public var compression: CompressionCodec { encoder.compression }

    /// A builder of batches compressed with `compression`, empty.
    ///
    /// - Parameters:
    ///   - compression: `.none` or `.lz4`.
    ///   - compressionLevel: LZ4 level: 0 is LZ4's fast mode, 3 to 12 LZ4-HC.
    public init(compression: CompressionCodec = .none, compressionLevel: Int = 0) throws(ReservoirError) {
        encoder = try RecordBatchEncoder(compression: compression, compressionLevel: compressionLevel)
        progress = Progress(encoder)
    }

    public var isEmpty: Bool { count == 0 }
    /// Bytes of the encoded records so far (before compression).
    public var recordsByteCount: Int { position - encoder.recordsStart }

    /// Appends one record. A `nil` timestamp takes the time the batch's first record was added.
    ///
    /// The bytes are copied at once; the buffers can be reused when this returns.
    @inlinable @inline(__always)
    public func append(
        key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [RecordHeader] = [], timestamp: Int64? = nil
    ) throws(ReservoirError) {
        // Fields are read and written in place: a copy of the whole value per record went
        // through the stack in mixed widths, and the CPU stalled forwarding those stores. The
        // type is named, not `Self`: a dynamic `Self` keeps the function from being inlined.
        let count = progress.count
        if count == 0 {
            progress.startedAt = RecordBatchBuilder.startTime()
            progress.baseTimestamp = timestamp ?? progress.startedAt
        } else if count >= Int(Int32.max) {
            throw RecordBatchBuilder.batchFull()
        }
        let recordTimestamp = timestamp ?? progress.startedAt
        let delta = Int32(truncatingIfNeeded: count)
        if recordTimestamp > progress.maxTimestamp {
            progress.maxTimestamp = recordTimestamp
            progress.maxTimestampDelta = delta
        }
        let timestampDelta = recordTimestamp &- progress.baseTimestamp
        let (total, body) = RecordWriter.size(
            keyCount: key?.count, valueCount: value?.count, headersBytes: headers.isEmpty ? 1 : RecordWriter.headersSize(headers),
            timestampDelta: timestampDelta, offsetDelta: delta)
        guard total <= RecordWriter.maxRecordBytes else { throw RecordBatchBuilder.overFormatLimit(total) }
        let position = progress.position
        let end = position &+ total
        if end > progress.capacity { grow(to: end) }
        // Safe: the buffer holds at least `end` bytes, and `total` is the exact size of what is written.
        _ = RecordWriter.writeRecord(
            key: key, value: value, headers: headers, timestampDelta: timestampDelta,
            offsetDelta: delta, body: body, to: progress.base + position)
        progress.position = end
        if total > progress.largestRecordBytes { progress.largestRecordBytes = total }
        if key == nil { progress.unkeyedCount &+= 1 }
        progress.count = count &+ 1
    }

    /// The time a batch's first record is added. Out of line, as the rest of the rare paths, so
    /// that the inlined append carries none of their code.
    @usableFromInline
    @inline(never)
    static func startTime() -> Int64 { wallClockMilliseconds() }

    /// Grows the records buffer to hold `end` bytes, keeping what is written.
    @usableFromInline
    @inline(never)
    func grow(to end: Int) {
        let target = encoder.recordsTarget
        target.grow(to: end, preserving: progress.position)
        progress.base = target.base
        progress.capacity = target.capacity
    }

    @usableFromInline
    @inline(never)
    static func batchFull() -> ReservoirError {
        ReservoirError(.recordTooLarge, "a batch holds at most \(Int32.max) records")
    }

    @usableFromInline
    @inline(never)
    static func overFormatLimit(_ bytes: Int) -> ReservoirError {
        ReservoirError(.recordTooLarge, "a record of \(bytes) bytes is over the format's limit of \(RecordWriter.maxRecordBytes) bytes")
    }

    /// Appends one record from byte arrays.
    public func append(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64? = nil) throws(ReservoirError) {
        try withOptionalBytes(key) { (key) throws(ReservoirError) in
            try withOptionalBytes(value) { (value) throws(ReservoirError) in
                try append(key: key, value: value, headers: headers, timestamp: timestamp)
            }
        }
    }

    /// Appends a ``Record``.
    /// Appends one record with UTF-8 key and value (nil for none; a nil value is a tombstone).
    public func append(key: String?, value: String?, headers: [RecordHeader] = [], timestamp: Int64? = nil) throws(ReservoirError) {
        try append(key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers, timestamp: timestamp)
    }

    /// Adds `record`, encoded into the batch at once.
    public func append(_ record: Record) throws(ReservoirError) {
        try append(key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
    }

    /// Empties the builder, keeping its buffers.
    public func reset() {
        progress = Progress(encoder)
    }

    /// The records of a builder, taken out with the encoder that holds them (see ``take(leaving:)``).
    struct TakenRecords: @unchecked Sendable {
        // Safe to send: the builder gave its only reference to `encoder` away, so whoever holds
        // this value is the encoder's one user.
        let encoder: RecordBatchEncoder
        let recordsEnd: Int
        let count: Int
        let baseTimestamp: Int64
        let maxTimestamp: Int64
        let maxTimestampDelta: Int32

        /// Completes the batch in the encoder's buffer (compression, header, CRC).
        func finish(baseOffset: Int64 = 0) -> RecordBatchEncoder.Summary {
            encoder.finish(
                recordsEnd: recordsEnd, count: count, baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
                maxTimestampDelta: maxTimestampDelta, baseOffset: baseOffset, partitionLeaderEpoch: 0, producer: .init())
        }
    }

    /// Hands the records over, with the encoder holding them, and continues empty on
    /// `replacement` (an encoder of the same codec that nobody else uses).
    func take(leaving replacement: RecordBatchEncoder) -> TakenRecords {
        let taken = records
        encoder = replacement
        progress = Progress(replacement)
        return taken
    }

    /// The records so far, to complete in place (the builder keeps them until ``reset()``).
    var records: TakenRecords {
        let state = progress
        return TakenRecords(
            encoder: encoder, recordsEnd: state.position, count: state.count, baseTimestamp: state.baseTimestamp,
            maxTimestamp: state.maxTimestamp, maxTimestampDelta: state.maxTimestampDelta)
    }

    /// Completes the batch in the encoder's buffer (compression, header, CRC).
    func finish(baseOffset: Int64 = 0) throws(ReservoirError) -> RecordBatchEncoder.Summary {
        guard count > 0 else { throw ReservoirError(.invalidArgument, "a batch needs at least one record") }
        return records.finish(baseOffset: baseOffset)
    }

    /// The finished batch's bytes (the builder keeps its records).
    public func encodedBytes(baseOffset: Int64 = 0) throws(ReservoirError) -> [UInt8] {
        _ = try finish(baseOffset: baseOffset)
        return encoder.withEncodedBytes { Array($0) }
    }
}

private func withOptionalBytes<R>(
    _ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws(ReservoirError) -> R
) throws(ReservoirError) -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { buffer in Result { () throws(ReservoirError) -> R in try body(buffer) } }.get()
}
