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
    @usableFromInline let section: UnsafeRawBufferPointer
    @usableFromInline let header: RecordBatchHeader
    @usableFromInline var position = 0
    @usableFromInline var index = 0
    @usableFromInline var previousOffsetDelta: Int32 = -1

    @inlinable
    init(_ section: UnsafeRawBufferPointer, header: RecordBatchHeader) {
        self.section = section
        self.header = header
    }

    /// The next record, or `nil` after the last one the header declares.
    @inlinable @inline(__always)
    mutating func next() throws(FormatError) -> DecodedRecord? {
        guard index < Int(header.recordCount) else {
            guard position >= section.count else { throw .trailingBytes(count: section.count - position) }
            return nil
        }
        guard position < section.count else { throw .recordCountMismatch(declared: Int(header.recordCount), actual: index) }
        // The state goes in and out by value (never by reference to the cursor), so that the
        // caller's loop keeps it in registers.
        let (record, end): (DecodedRecord, Int)
        if let short = Self.shortRecord(section, at: position, after: previousOffsetDelta, header: header) {
            (record, end) = short
        } else {
            (record, end) = try Self.record(section, at: position, after: previousOffsetDelta, header: header)
        }
        position = end
        index &+= 1
        previousOffsetDelta = record.offsetDelta
        return record
    }

    /// The record at `start` when its varints are one or two bytes long (lengths and deltas below
    /// 8192) and it has no headers, with the position after it; `nil` for any other record,
    /// valid or not, which ``record(_:at:after:header:)`` then reads and checks.
    ///
    /// One bounds check covers the fixed fields: a body of at least 7 bytes holds the attributes
    /// and three varints of at most two bytes each, so they are read without one check each.
    @inlinable @inline(__always)
    static func shortRecord(
        _ section: UnsafeRawBufferPointer, at start: Int, after previousOffsetDelta: Int32, header: RecordBatchHeader
    ) -> (DecodedRecord, Int)? {
        // Safe reads: every load below is at an index proven below `section.count` (directly or
        // through `bodyEnd`, which is checked against it), and `section` has a base address
        // whenever `start < section.count`, which the caller checked.
        guard let base = section.baseAddress, section.count &- start >= 2 else { return nil }
        var position = start
        @inline(__always)
        func short() -> Int? {
            ByteCursor.shortVarint(base, at: &position).map { Int(ByteCursor.zigzag($0)) }
        }
        guard let bodySize = short(), bodySize >= 7, bodySize <= section.count &- position else { return nil }
        let bodyEnd = position &+ bodySize
        position &+= 1  // attributes, unused in v2
        guard let timestampDelta = short(), let offsetDelta = short(),
            offsetDelta > Int(previousOffsetDelta), offsetDelta <= Int(header.lastOffsetDelta)
        else { return nil }
        let tailStart = position
        guard let keyLength = short() else { return nil }
        var key: UnsafeRawBufferPointer?
        if keyLength >= 0 {
            guard keyLength <= bodyEnd &- position else { return nil }
            key = UnsafeRawBufferPointer(start: base + position, count: keyLength)
            position &+= keyLength
        } else if keyLength != -1 {
            return nil
        }
        guard bodyEnd &- position >= 2, let valueLength = short() else { return nil }
        var value: UnsafeRawBufferPointer?
        if valueLength >= 0 {
            guard valueLength < bodyEnd &- position else { return nil }
            value = UnsafeRawBufferPointer(start: base + position, count: valueLength)
            position &+= valueLength
        } else if valueLength != -1 {
            return nil
        }
        // No headers: a zero count, the body's last byte.
        guard position &+ 1 == bodyEnd, base.load(fromByteOffset: position, as: UInt8.self) == 0 else { return nil }
        let record = DecodedRecord(
            offset: header.baseOffset &+ Int64(offsetDelta),
            timestamp: header.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ Int64(timestampDelta),
            keyBytes: key,
            valueBytes: value,
            headerBytes: UnsafeRawBufferPointer(start: base + bodyEnd, count: 0),
            headerCount: 0,
            rawBytes: UnsafeRawBufferPointer(start: base + start, count: bodyEnd &- start),
            tailBytes: UnsafeRawBufferPointer(start: base + tailStart, count: bodyEnd &- tailStart),
            offsetDelta: Int32(truncatingIfNeeded: offsetDelta)
        )
        return (record, bodyEnd)
    }

    /// The record at `start`, every field checked, with the position after it.
    @usableFromInline @inline(never)
    static func record(
        _ section: UnsafeRawBufferPointer, at start: Int, after previousOffsetDelta: Int32, header: RecordBatchHeader
    ) throws(FormatError) -> (DecodedRecord, Int) {
        var bytes = ByteCursor(section, position: start)
        let bodySize = Int(try bytes.readVarint())
        guard bodySize >= 0, bodySize <= bytes.remaining else { throw recordLengthOutOfBounds(bodySize, available: bytes.remaining) }
        let bodyStart = bytes.position
        _ = try bytes.readByte()  // attributes, unused in v2
        let timestampDelta = try bytes.readVarlong()
        let offsetDelta = try bytes.readVarint()
        // Offsets rise within a batch (compaction leaves gaps, never disorder) and stay inside
        // its range: a record elsewhere would be read at another batch's offset.
        guard offsetDelta > previousOffsetDelta, offsetDelta <= header.lastOffsetDelta else {
            throw offsetDeltaOutOfOrder(offsetDelta, after: previousOffsetDelta, last: header.lastOffsetDelta)
        }
        let tailStart = bytes.position
        let keyLength = try bytes.readVarint()
        let key = keyLength >= 0 ? try bytes.readBytes(Int(keyLength)) : nil
        let valueLength = try bytes.readVarint()
        let value = valueLength >= 0 ? try bytes.readBytes(Int(valueLength)) : nil
        let headerCount = try bytes.readVarint()
        let headersStart = bytes.position
        if headerCount != 0 { try skipHeaders(headerCount, &bytes) }
        guard bytes.position - bodyStart == bodySize else { throw bodyLengthMismatch(bytes.position - bodyStart, declared: bodySize) }
        let record = DecodedRecord(
            offset: header.baseOffset &+ Int64(offsetDelta),
            // LogAppendTime: the broker's append time, the batch's max timestamp, is every
            // record's timestamp (the deltas keep the producer's create times).
            timestamp: header.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta,
            keyBytes: key,
            valueBytes: value,
            headerBytes: UnsafeRawBufferPointer(rebasing: section[headersStart..<bytes.position]),
            headerCount: Int(headerCount),
            rawBytes: UnsafeRawBufferPointer(rebasing: section[start..<bytes.position]),
            tailBytes: UnsafeRawBufferPointer(rebasing: section[tailStart..<bytes.position]),
            offsetDelta: offsetDelta
        )
        return (record, bytes.position)
    }

    /// Checks a record's headers (names and values within the section) and moves past them.
    static func skipHeaders(_ count: Int32, _ bytes: inout ByteCursor) throws(FormatError) {
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
