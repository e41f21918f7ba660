import NIOCore

/// Writes the fields of Kafka's protocol into a growing buffer.
public struct KafkaWriter: Sendable {
    public var buffer: ByteBuffer
    /// File ranges that go between the buffer's bytes, each at the buffer index it follows
    /// (records fields sent with sendfile; see ``KafkaRecords/file(_:)``).
    public private(set) var files: [(index: Int, records: KafkaFileRecords)] = []

    public init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func writeBool(_ value: Bool) { buffer.writeInteger(UInt8(value ? 1 : 0)) }
    public mutating func writeInt8(_ value: Int8) { buffer.writeInteger(value) }
    public mutating func writeInt16(_ value: Int16) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeUInt16(_ value: UInt16) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeInt32(_ value: Int32) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeUInt32(_ value: UInt32) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeInt64(_ value: Int64) { buffer.writeInteger(value, endianness: .big) }
    public mutating func writeFloat64(_ value: Double) { buffer.writeInteger(value.bitPattern, endianness: .big) }
    public mutating func writeUUID(_ value: KafkaUUID) {
        buffer.writeInteger(value.high, endianness: .big)
        buffer.writeInteger(value.low, endianness: .big)
    }

    public mutating func writeUnsignedVarint(_ value: UInt32) {
        var rest = value
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }

    /// A length or count: int16 or int32 (legacy) or compact (n + 1); -1 is null.
    private mutating func writeLength(_ length: Int, compact: Bool, wide: Bool) {
        if compact {
            writeUnsignedVarint(UInt32(length + 1))
        } else if wide {
            writeInt32(Int32(length))
        } else {
            writeInt16(Int16(length))
        }
    }

    public mutating func writeString(_ value: String, compact: Bool) {
        let count = value.utf8.count
        // A legacy string's length is an int16: a longer one (only ever a message the broker
        // composed) is cut, never a trap.
        guard compact || count <= Int(Int16.max) else {
            writeLength(Int(Int16.max), compact: false, wide: false)
            buffer.writeBytes(value.utf8.prefix(Int(Int16.max)))
            return
        }
        writeLength(count, compact: compact, wide: false)
        buffer.writeString(value)
    }

    public mutating func writeNullableString(_ value: String?, compact: Bool) {
        guard let value else { return writeLength(-1, compact: compact, wide: false) }
        writeString(value, compact: compact)
    }

    public mutating func writeBytes(_ value: [UInt8], compact: Bool) {
        writeLength(value.count, compact: compact, wide: true)
        buffer.writeBytes(value)
    }

    public mutating func writeNullableBytes(_ value: [UInt8]?, compact: Bool) {
        guard let value else { return writeLength(-1, compact: compact, wide: true) }
        writeBytes(value, compact: compact)
    }

    public mutating func writeRecords(_ value: KafkaRecords, compact: Bool) {
        writeLength(value.byteCount, compact: compact, wide: true)
        switch value {
        case .bytes(var bytes): buffer.writeBuffer(&bytes)
        case .file(let file): files.append((buffer.writerIndex, file))
        }
    }

    public mutating func writeNullableRecords(_ value: KafkaRecords?, compact: Bool) {
        guard let value else { return writeLength(-1, compact: compact, wide: true) }
        writeRecords(value, compact: compact)
    }

    public mutating func writeArray<T>(_ values: [T], compact: Bool, _ element: (inout KafkaWriter, T) -> Void) {
        writeLength(values.count, compact: compact, wide: true)
        for value in values { element(&self, value) }
    }

    public mutating func writeNullableArray<T>(_ values: [T]?, compact: Bool, _ element: (inout KafkaWriter, T) -> Void) {
        guard let values else { return writeLength(-1, compact: compact, wide: true) }
        writeArray(values, compact: compact, element)
    }

    public mutating func writeNullableStruct<T>(_ value: T?, _ body: (inout KafkaWriter, T) -> Void) {
        guard let value else { return writeInt8(-1) }
        writeInt8(1)
        body(&self, value)
    }

    /// The tagged fields that end a structure in flexible versions, in ascending tag order.
    public mutating func writeTaggedFields(_ fields: [(tag: UInt32, write: (inout KafkaWriter) -> Void)]) {
        writeUnsignedVarint(UInt32(fields.count))
        for field in fields.sorted(by: { $0.tag < $1.tag }) {
            var content = KafkaWriter(capacity: 64)
            field.write(&content)
            writeUnsignedVarint(field.tag)
            writeUnsignedVarint(UInt32(content.byteCount))
            append(content)
        }
    }

    /// The bytes written, file ranges included.
    public var byteCount: Int { buffer.readableBytes + files.reduce(0) { $0 + $1.records.count } }

    /// Appends what `other` wrote, its file ranges included.
    public mutating func append(_ other: KafkaWriter) {
        let shift = buffer.writerIndex - other.buffer.readerIndex
        for file in other.files { files.append((file.index + shift, file.records)) }
        var bytes = other.buffer
        buffer.writeBuffer(&bytes)
    }

    /// The bytes in memory, file ranges copied in from their batches' mapping.
    public var flattened: ByteBuffer {
        guard !files.isEmpty else { return buffer }
        var result = ByteBufferAllocator().buffer(capacity: byteCount)
        var next = buffer.readerIndex
        for file in files {
            if var part = buffer.getSlice(at: next, length: file.index - next) { result.writeBuffer(&part) }
            var records = KafkaRecords.file(file.records).buffer
            result.writeBuffer(&records)
            next = file.index
        }
        if var rest = buffer.getSlice(at: next, length: buffer.writerIndex - next) { result.writeBuffer(&rest) }
        return result
    }
}
