/// Reads the records of an uncompressed records section one by one, checking every field as
/// Kafka's `DefaultRecord.readFrom` does: lengths within the section, offsets rising within the
/// batch's range, each record exactly its declared length, as many records as the header says
/// and nothing after them.
///
/// Inlinable, so that a reader's loop (``RecordDecoder/forEachRecord(in:verifyCRC:includingControl:_:)``)
/// compiles into the caller with its body. The records point into `section`, which the caller
/// keeps alive.
@usableFromInline
struct RecordCursor {
    @usableFromInline var bytes: ByteCursor
    @usableFromInline let section: UnsafeRawBufferPointer
    @usableFromInline let header: RecordBatchHeader
    @usableFromInline var index = 0
    @usableFromInline var previousOffsetDelta: Int32 = -1

    @inlinable
    init(_ section: UnsafeRawBufferPointer, header: RecordBatchHeader) {
        self.bytes = ByteCursor(section)
        self.section = section
        self.header = header
    }

    /// The next record, or `nil` after the last one the header declares.
    @inlinable @inline(__always)
    mutating func next() throws(FormatError) -> DecodedRecord? {
        guard index < Int(header.recordCount) else {
            guard bytes.isAtEnd else { throw .trailingBytes(count: bytes.remaining) }
            return nil
        }
        guard !bytes.isAtEnd else { throw .recordCountMismatch(declared: Int(header.recordCount), actual: index) }
        let recordStart = bytes.position
        let bodySize = Int(try bytes.readVarint())
        guard bodySize >= 0, bodySize <= bytes.remaining else { throw Self.recordLengthOutOfBounds(bodySize, available: bytes.remaining) }
        let start = bytes.position
        _ = try bytes.readByte()  // attributes, unused in v2
        let timestampDelta = try bytes.readVarlong()
        let offsetDelta = try bytes.readVarint()
        // Offsets rise within a batch (compaction leaves gaps, never disorder) and stay inside
        // its range: a record elsewhere would be read at another batch's offset.
        guard offsetDelta > previousOffsetDelta, offsetDelta <= header.lastOffsetDelta else {
            throw Self.offsetDeltaOutOfOrder(offsetDelta, after: previousOffsetDelta, last: header.lastOffsetDelta)
        }
        previousOffsetDelta = offsetDelta
        let tailStart = bytes.position
        let keyLength = try bytes.readVarint()
        let key = keyLength >= 0 ? try bytes.readBytes(Int(keyLength)) : nil
        let valueLength = try bytes.readVarint()
        let value = valueLength >= 0 ? try bytes.readBytes(Int(valueLength)) : nil
        let headerCount = try bytes.readVarint()
        let headersStart = bytes.position
        if headerCount != 0 { try skipHeaders(headerCount) }
        guard bytes.position - start == bodySize else { throw Self.bodyLengthMismatch(bytes.position - start, declared: bodySize) }
        index &+= 1
        return DecodedRecord(
            offset: header.baseOffset &+ Int64(offsetDelta),
            // LogAppendTime: the broker's append time, the batch's max timestamp, is every
            // record's timestamp (the deltas keep the producer's create times).
            timestamp: header.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta,
            keyBytes: key,
            valueBytes: value,
            headerBytes: UnsafeRawBufferPointer(rebasing: section[headersStart..<bytes.position]),
            headerCount: Int(headerCount),
            rawBytes: UnsafeRawBufferPointer(rebasing: section[recordStart..<bytes.position]),
            tailBytes: UnsafeRawBufferPointer(rebasing: section[tailStart..<bytes.position]),
            offsetDelta: offsetDelta
        )
    }

    /// Checks a record's headers (names and values within the section) and moves past them.
    @usableFromInline
    mutating func skipHeaders(_ count: Int32) throws(FormatError) {
        guard count >= 0, Int(count) <= bytes.remaining else { throw .invalidRecord("header count \(count) is invalid") }
        for _ in 0..<count {
            let nameLength = try bytes.readVarint()
            guard nameLength >= 0 else { throw .invalidRecord("header name length \(nameLength) is negative") }
            _ = try bytes.readBytes(Int(nameLength))
            let valueLength = try bytes.readVarint()
            if valueLength >= 0 { _ = try bytes.readBytes(Int(valueLength)) }
        }
    }

    // The errors, built out of line so that the inlined loop carries no string formatting.

    @usableFromInline @inline(never)
    static func recordLengthOutOfBounds(_ length: Int, available: Int) -> FormatError {
        .lengthOutOfBounds(field: "record length", length: length, available: available)
    }

    @usableFromInline @inline(never)
    static func offsetDeltaOutOfOrder(_ delta: Int32, after previous: Int32, last: Int32) -> FormatError {
        .invalidRecord("offset delta \(delta) is not after \(previous) and at most \(last)")
    }

    @usableFromInline @inline(never)
    static func bodyLengthMismatch(_ actual: Int, declared: Int) -> FormatError {
        .invalidRecord("record body is \(actual) bytes, its length says \(declared)")
    }
}
