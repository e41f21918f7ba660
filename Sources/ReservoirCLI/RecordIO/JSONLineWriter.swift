import CReservoirText
import Reservoir

/// Writes the JSON line of a record without headers whose key and value are text, the common
/// line of `consume --json`, straight into raw memory: no array append per field and no escape
/// appended as a string, which made each line cost about a microsecond. The bytes are exactly
/// those ``RecordJSON`` writes for the same record (a test compares the two on records with
/// every kind of escape).
///
/// The caller sizes the memory with ``bound(topic:key:value:)``; every write stays within it.
struct JSONLineWriter {
    private var pointer: UnsafeMutableRawPointer

    init(_ start: UnsafeMutableRawPointer) { pointer = start }

    /// The most bytes the line of such a record takes: the fixed parts (labels, quotes, the
    /// encodings and the end: 126 bytes), three numbers of at most 20 characters each, and each
    /// byte of text escaped to at most six.
    static func bound(topic: Int, key: Int, value: Int) -> Int {
        256 &+ 6 &* (topic &+ key &+ value)
    }

    /// Writes valid UTF-8 `bytes` as a JSON string at `start`, which has room for 6 × count + 2
    /// bytes; returns the end. `"` and `\\` take a backslash, `\n`, `\r` and `\t` are written as
    /// such, other bytes below 0x20 as `\u00XX`; every other byte (all of a multi-byte scalar's are
    /// 0x80 or above) as it is (RFC 8259's escapes, as `consume --json` has always written them).
    static func string(_ bytes: UnsafeRawBufferPointer, at start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var writer = JSONLineWriter(start)
        writer.string(bytes)
        return writer.pointer
    }

    /// Writes `value` in decimal at `start`, which has room for 20 bytes; returns the end.
    static func decimal(_ value: Int64, at start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var writer = JSONLineWriter(start)
        writer.decimal(value)
        return writer.pointer
    }

    /// Writes the start every line of a partition shares, `{"topic":…,"partition":…,"offset":`,
    /// at `start` (room for ``bound(topic:key:value:)`` of the topic alone); returns the end.
    static func lineStart(topic: UnsafeRawBufferPointer, partition: Int, at start: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var line = JSONLineWriter(start)
        line.literal("{\"topic\":")
        line.string(topic)
        line.literal(",\"partition\":")
        line.decimal(Int64(partition))
        line.literal(",\"offset\":")
        return line.pointer
    }

    /// Writes the line and returns where it ends: the partition's shared start, then the offset
    /// and timestamp through its memos.
    static func write(
        _ partition: inout JSONLinePartition, offset: Int64, timestamp: Int64, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?, to start: UnsafeMutableRawPointer
    ) -> UnsafeMutableRawPointer {
        var line = JSONLineWriter(start)
        partition.start.withUnsafeBytes { line.copy($0) }
        line.pointer += reservoir_decimal_memoized(&partition.offset, offset, line.pointer.assumingMemoryBound(to: UInt8.self))
        line.literal(",\"timestamp\":")
        line.pointer += reservoir_decimal_memoized(&partition.timestamp, timestamp, line.pointer.assumingMemoryBound(to: UInt8.self))
        line.literal(",\"key\":")
        if let key {
            line.string(key)
            line.literal(",\"keyEncoding\":\"utf8\"")
        } else {
            line.literal("null")
        }
        line.literal(",\"value\":")
        if let value {
            line.string(value)
            line.literal(",\"valueEncoding\":\"utf8\"")
        } else {
            line.literal("null")
        }
        line.literal(",\"headers\":[]}\n")
        return line.pointer
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        pointer.copyMemory(from: base, byteCount: bytes.count)
        pointer += bytes.count
    }

    private mutating func byte(_ byte: UInt8) {
        pointer.storeBytes(of: byte, as: UInt8.self)
        pointer += 1
    }

    private mutating func literal(_ text: StaticString) {
        pointer.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        pointer += text.utf8CodeUnitCount
    }

    /// `bytes` (valid UTF-8) as a JSON string (see ``string(_:at:)``), escaped by
    /// `reservoir_json_escape`: sixteen bytes tested at once, and a run with quotes spread out
    /// by a byte shuffle, since the values this writes often have a quote every few bytes.
    private mutating func string(_ bytes: UnsafeRawBufferPointer) {
        byte(UInt8(ascii: "\""))
        if let base = bytes.baseAddress {
            pointer += reservoir_json_escape(
                base.assumingMemoryBound(to: UInt8.self), bytes.count, pointer.assumingMemoryBound(to: UInt8.self))
        }
        byte(UInt8(ascii: "\""))
    }

    private mutating func decimal(_ value: Int64) {
        pointer += reservoir_decimal(value, pointer.assumingMemoryBound(to: UInt8.self))
    }
}
