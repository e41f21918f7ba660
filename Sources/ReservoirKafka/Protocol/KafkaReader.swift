import NIOCore

/// Reads the fields of Kafka's protocol from a buffer, every read bounds-checked: a truncated or
/// inconsistent message throws ``KafkaProtocolError`` and never reads past the buffer or
/// allocates from an untrusted count beyond the bytes that remain.
public struct KafkaReader {
    var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Bytes not yet read.
    public var remaining: Int { buffer.readableBytes }

    /// The bytes not yet read, as a slice of the same storage.
    public var remainingBuffer: ByteBuffer { buffer }

    @inline(__always)
    private mutating func integer<T: FixedWidthInteger>(_ field: String) throws(KafkaProtocolError) -> T {
        guard let value = buffer.readInteger(endianness: .big, as: T.self) else {
            throw .truncated(field: field, needed: MemoryLayout<T>.size, available: buffer.readableBytes)
        }
        return value
    }

    public mutating func readBool() throws(KafkaProtocolError) -> Bool { try integer("bool") as UInt8 != 0 }
    public mutating func readInt8() throws(KafkaProtocolError) -> Int8 { try integer("int8") }
    public mutating func readInt16() throws(KafkaProtocolError) -> Int16 { try integer("int16") }
    public mutating func readUInt16() throws(KafkaProtocolError) -> UInt16 { try integer("uint16") }
    public mutating func readInt32() throws(KafkaProtocolError) -> Int32 { try integer("int32") }
    public mutating func readUInt32() throws(KafkaProtocolError) -> UInt32 { try integer("uint32") }
    public mutating func readInt64() throws(KafkaProtocolError) -> Int64 { try integer("int64") }
    public mutating func readFloat64() throws(KafkaProtocolError) -> Double { Double(bitPattern: try integer("float64")) }
    public mutating func readUUID() throws(KafkaProtocolError) -> KafkaUUID {
        KafkaUUID(high: try integer("uuid"), low: try integer("uuid"))
    }

    /// An unsigned LEB128 varint of at most 32 bits (compact lengths, tags).
    public mutating func readUnsignedVarint() throws(KafkaProtocolError) -> UInt32 {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte: UInt8 = try integer("varint")
            guard shift < 32, shift < 28 || byte & 0xF0 == 0 else { throw .malformedVarint }
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A length: int16 or int32 (legacy), or a compact uvarint holding length + 1; -1 is null.
    private mutating func length(compact: Bool, wide: Bool, field: String) throws(KafkaProtocolError) -> Int {
        let length: Int
        if compact {
            length = Int(try readUnsignedVarint()) - 1
        } else if wide {
            length = Int(try readInt32())
        } else {
            length = Int(try readInt16())
        }
        guard length >= -1 else { throw .invalidLength(field: field, length: Int64(length)) }
        guard length <= buffer.readableBytes else { throw .truncated(field: field, needed: length, available: buffer.readableBytes) }
        return length
    }

    private mutating func string(length: Int) throws(KafkaProtocolError) -> String {
        guard let bytes = buffer.readSlice(length: length) else {
            throw .truncated(field: "string", needed: length, available: buffer.readableBytes)
        }
        guard let text = bytes.getString(at: bytes.readerIndex, length: length), text.utf8.count == length else { throw .invalidString }
        return text
    }

    public mutating func readString(compact: Bool) throws(KafkaProtocolError) -> String {
        let length = try length(compact: compact, wide: false, field: "string")
        guard length >= 0 else { throw .unexpectedNull(field: "string") }
        return try string(length: length)
    }

    public mutating func readNullableString(compact: Bool, nullable: Bool) throws(KafkaProtocolError) -> String? {
        let length = try length(compact: compact, wide: false, field: "string")
        if length < 0 {
            guard nullable else { throw .unexpectedNull(field: "string") }
            return nil
        }
        return try string(length: length)
    }

    public mutating func readBytes(compact: Bool) throws(KafkaProtocolError) -> [UInt8] {
        guard let bytes = try readNullableBytes(compact: compact, nullable: false) else { throw .unexpectedNull(field: "bytes") }
        return bytes
    }

    public mutating func readNullableBytes(compact: Bool, nullable: Bool) throws(KafkaProtocolError) -> [UInt8]? {
        let length = try length(compact: compact, wide: true, field: "bytes")
        if length < 0 {
            guard nullable else { throw .unexpectedNull(field: "bytes") }
            return nil
        }
        return buffer.readBytes(length: length) ?? []
    }

    /// A records field: the record batches as a slice of the request's buffer (no copy).
    public mutating func readRecords(compact: Bool) throws(KafkaProtocolError) -> KafkaRecords {
        guard let records = try readNullableRecords(compact: compact, nullable: false) else { throw .unexpectedNull(field: "records") }
        return records
    }

    public mutating func readNullableRecords(compact: Bool, nullable: Bool) throws(KafkaProtocolError) -> KafkaRecords? {
        let length = try length(compact: compact, wide: true, field: "records")
        if length < 0 {
            guard nullable else { throw .unexpectedNull(field: "records") }
            return nil
        }
        return buffer.readSlice(length: length).map(KafkaRecords.bytes)
    }

    /// An array: int32 count (legacy) or compact uvarint count + 1, then the elements.
    public mutating func readArray<T>(
        compact: Bool, _ element: (inout KafkaReader) throws(KafkaProtocolError) -> T
    ) throws(KafkaProtocolError) -> [T] {
        guard let array = try readNullableArray(compact: compact, nullable: false, element) else { throw .unexpectedNull(field: "array") }
        return array
    }

    public mutating func readNullableArray<T>(
        compact: Bool, nullable: Bool, _ element: (inout KafkaReader) throws(KafkaProtocolError) -> T
    ) throws(KafkaProtocolError) -> [T]? {
        // Every element takes at least one byte: a count beyond the bytes left is a lie.
        let count = try length(compact: compact, wide: true, field: "array")
        if count < 0 {
            guard nullable else { throw .unexpectedNull(field: "array") }
            return nil
        }
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }

    /// A nullable struct: int8 -1 for null, 1 for present.
    public mutating func readNullableStruct<T>(
        nullable: Bool, _ body: (inout KafkaReader) throws(KafkaProtocolError) -> T
    ) throws(KafkaProtocolError) -> T? {
        let marker = try readInt8()
        if marker < 0 {
            guard nullable else { throw .unexpectedNull(field: "struct") }
            return nil
        }
        return try body(&self)
    }

    /// The tagged fields that end a structure in flexible versions: `known` decodes a tag it
    /// knows from a reader over exactly its bytes and returns true; unknown tags are skipped.
    public mutating func readTaggedFields(_ known: (UInt32, inout KafkaReader) throws(KafkaProtocolError) -> Bool)
        throws(KafkaProtocolError)
    {
        let count = try readUnsignedVarint()
        guard Int(count) <= buffer.readableBytes else { throw .invalidLength(field: "tagged fields", length: Int64(count)) }
        for _ in 0..<count {
            let tag = try readUnsignedVarint()
            let size = Int(try readUnsignedVarint())
            guard let bytes = buffer.readSlice(length: size) else {
                throw .truncated(field: "tagged field \(tag)", needed: size, available: buffer.readableBytes)
            }
            var field = KafkaReader(bytes)
            if try known(tag, &field), field.remaining != 0 { throw .trailingBytes(field.remaining) }
        }
    }
}
