/// Lays out single records of a batch's records section (Kafka's record v2): the size first, so
/// that a buffer is grown once, then the bytes.
///
/// Static functions on an enum rather than on the encoder class: a class's static methods take
/// its metatype, which costs a metadata call on every record of the append path. Sizes are plain
/// `Int` sums that cannot overflow (each field is an in-memory buffer); a caller refuses a record
/// whose total exceeds ``maxRecordBytes`` before writing it, which also keeps every length that
/// is written as an `Int32` varint in range.
@usableFromInline
enum RecordWriter {
    /// The largest record the format can describe: its length is an `Int32` varint.
    @usableFromInline static let maxRecordBytes = Int(Int32.max)

    /// The encoded size of one record, length prefix included.
    ///
    /// Works on the borrowed record's fields in place: copying them out (even `record.headers`
    /// into a local) costs a retain and a release per field per record.
    @inline(__always)
    static func encodedSize(of record: borrowing Record, timestampDelta: Int64, offsetDelta: Int32) -> (total: Int, body: Int) {
        size(
            keyCount: record.key?.count, valueCount: record.value?.count,
            headersBytes: record.headers.isEmpty ? 1 : headersSize(record.headers),
            timestampDelta: timestampDelta, offsetDelta: offsetDelta)
    }

    /// The encoded size of the record at `record`, as ``encodedSize(of:timestampDelta:offsetDelta:)``.
    ///
    /// The encoder's loop reads records in place in their array through a pointer: handed a
    /// borrowed `Record`, the optimizer passes its fields to any call it cannot inline, and
    /// holds a reference to each of them (a retain and a release each per record: 40% of the
    /// encoding time, measured). Through the pointer, only the out-of-line headers paths see the record.
    @inline(__always)
    static func encodedSize(at record: UnsafePointer<Record>, timestampDelta: Int64, offsetDelta: Int32) -> (total: Int, body: Int) {
        size(
            keyCount: record.pointee.key?.count, valueCount: record.pointee.value?.count,
            headersBytes: record.pointee.headers.isEmpty ? 1 : headersSize(at: record),
            timestampDelta: timestampDelta, offsetDelta: offsetDelta)
    }

    /// Writes the record at `record` at `start`, which has room for the total that
    /// ``encodedSize(at:timestampDelta:offsetDelta:)`` gives; returns the end.
    @inline(__always)
    static func write(
        _ record: UnsafePointer<Record>, timestampDelta: Int64, offsetDelta: Int32, body: Int, to start: UnsafeMutableRawPointer
    )
        -> UnsafeMutableRawPointer
    {
        var p = writePrefix(body: body, timestampDelta: timestampDelta, offsetDelta: offsetDelta, to: start)
        if let key = record.pointee.key { p = key.withUnsafeBytes { writeField($0, to: p) } } else { p = writeNull(to: p) }
        if let value = record.pointee.value { p = value.withUnsafeBytes { writeField($0, to: p) } } else { p = writeNull(to: p) }
        guard record.pointee.headers.isEmpty else { return writeHeaders(at: record, to: p) }
        p.storeBytes(of: 0, as: UInt8.self)
        return p + 1
    }

    @inline(never)
    private static func headersSize(at record: UnsafePointer<Record>) -> Int {
        headersSize(record.pointee.headers)
    }

    @inline(never)
    private static func writeHeaders(at record: UnsafePointer<Record>, to pointer: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        writeHeaders(record.pointee.headers, to: pointer)
    }

    /// The size of one record from its parts (`nil` counts for null fields), length prefix
    /// included. `headersBytes` is the size of the headers section: 1 without headers.
    @inline(__always)
    @inlinable
    static func size(
        keyCount: Int?, valueCount: Int?, headersBytes: Int, timestampDelta: Int64, offsetDelta: Int32
    ) -> (total: Int, body: Int) {
        let body =
            1 &+ Varint.size(timestampDelta) &+ Varint.size(offsetDelta) &+ fieldSize(keyCount)
            &+ fieldSize(valueCount) &+ headersBytes
        return (Varint.sizeOfUnsigned(UInt64(body) &<< 1) &+ body, body)
    }

    /// A length-prefixed field's size: the varint length (-1 for null) and the bytes.
    @inline(__always)
    @inlinable
    static func fieldSize(_ count: Int?) -> Int {
        guard let count else { return 1 }
        return Varint.sizeOfUnsigned(UInt64(count) &<< 1) &+ count
    }

    /// The size of a headers section: the count and each header's name and value.
    @usableFromInline
    static func headersSize(_ headers: [RecordHeader]) -> Int {
        var size = fieldSize(headers.count) &- headers.count
        for header in headers {
            size &+= fieldSize(header.key.utf8.count) &+ fieldSize(header.value?.count)
        }
        return size
    }

    /// Writes a record's length, attributes and deltas; returns where its key goes.
    @inline(__always)
    @inlinable
    static func writePrefix(body: Int, timestampDelta: Int64, offsetDelta: Int32, to start: UnsafeMutableRawPointer)
        -> UnsafeMutableRawPointer
    {
        var p = start + Varint.write(Int32(truncatingIfNeeded: body), to: start)
        p.storeBytes(of: 0, as: UInt8.self)
        p += 1
        p += Varint.write(timestampDelta, to: p)
        return p + Varint.write(offsetDelta, to: p)
    }

    /// Writes a headers section of the size ``headersSize(_:)`` gave; returns the end.
    @usableFromInline
    static func writeHeaders(_ headers: [RecordHeader], to pointer: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var p = pointer + Varint.write(Int32(truncatingIfNeeded: headers.count), to: pointer)
        for header in headers {
            var name = header.key
            p = name.withUTF8 { writeField(UnsafeRawBufferPointer($0), to: p) }
            if let value = header.value { p = value.withUnsafeBytes { writeField($0, to: p) } } else { p = writeNull(to: p) }
        }
        return p
    }

    /// Writes one record given as raw parts at `start`, which has room for the `total` that
    /// ``size(keyCount:valueCount:headersBytes:timestampDelta:offsetDelta:)`` gave. Returns the end.
    @inline(__always)
    @inlinable
    static func writeRecord(
        key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [RecordHeader],
        timestampDelta: Int64, offsetDelta: Int32, body: Int, to start: UnsafeMutableRawPointer
    ) -> UnsafeMutableRawPointer {
        var p = writePrefix(body: body, timestampDelta: timestampDelta, offsetDelta: offsetDelta, to: start)
        p = key.map { writeField($0, to: p) } ?? writeNull(to: p)
        p = value.map { writeField($0, to: p) } ?? writeNull(to: p)
        if headers.isEmpty {
            p.storeBytes(of: 0, as: UInt8.self)
            return p + 1
        }
        return writeHeaders(headers, to: p)
    }

    /// A null field: length -1 (zig-zag 1), no bytes.
    @inline(__always)
    @inlinable
    static func writeNull(to pointer: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        pointer.storeBytes(of: 1, as: UInt8.self)
        return pointer + 1
    }

    @inline(__always)
    @inlinable
    static func writeField(_ bytes: UnsafeRawBufferPointer, to pointer: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        let start = pointer + Varint.write(Int32(truncatingIfNeeded: bytes.count), to: pointer)
        if let source = bytes.baseAddress, bytes.count > 0 {
            start.copyMemory(from: source, byteCount: bytes.count)
        }
        return start + bytes.count
    }
}
