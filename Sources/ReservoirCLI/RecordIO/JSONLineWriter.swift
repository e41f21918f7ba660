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
    /// 0x80 or above) as it is: the same text as ``JSONText/string(_:)``, which works on scalars.
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

    /// Writes the line and returns where it ends.
    static func write(
        topic: UnsafeRawBufferPointer, partition: Int, offset: Int64, timestamp: Int64, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?, to start: UnsafeMutableRawPointer
    ) -> UnsafeMutableRawPointer {
        var line = JSONLineWriter(start)
        line.literal("{\"topic\":")
        line.string(topic)
        line.literal(",\"partition\":")
        line.decimal(Int64(partition))
        line.literal(",\"offset\":")
        line.decimal(offset)
        line.literal(",\"timestamp\":")
        line.decimal(timestamp)
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

    private mutating func byte(_ byte: UInt8) {
        pointer.storeBytes(of: byte, as: UInt8.self)
        pointer += 1
    }

    private mutating func literal(_ text: StaticString) {
        pointer.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        pointer += text.utf8CodeUnitCount
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let count = bytes.count
        // The runs between escapes are short: two overlapping words instead of a call.
        if count >= 8 && count <= 16 {
            pointer.storeBytes(of: base.loadUnaligned(as: UInt64.self), as: UInt64.self)
            pointer.storeBytes(
                of: base.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self), toByteOffset: count &- 8, as: UInt64.self)
        } else if count < 8 {
            for index in 0..<count {
                pointer.storeBytes(of: base.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self)
            }
        } else {
            pointer.copyMemory(from: base, byteCount: count)
        }
        pointer += count
    }

    /// `bytes` (valid UTF-8) as a JSON string (see ``string(_:at:)``).
    ///
    /// Eight bytes at a time are tested for anything to escape (below 0x20, `"` or `\\`) with
    /// word arithmetic; only a word that holds one is looked at byte by byte.
    private mutating func string(_ bytes: UnsafeRawBufferPointer) {
        byte(UInt8(ascii: "\""))
        guard let base = bytes.baseAddress else {
            byte(UInt8(ascii: "\""))
            return
        }
        let count = bytes.count
        var runStart = 0
        var index = 0
        while index < count {
            if index &+ 8 <= count && !Self.needsEscape(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index &+= 8
                continue
            }
            let end = min(index &+ 8, count)
            while index < end {
                let current = base.load(fromByteOffset: index, as: UInt8.self)
                if current < 0x20 || current == UInt8(ascii: "\"") || current == UInt8(ascii: "\\") {
                    copy(UnsafeRawBufferPointer(start: base + runStart, count: index &- runStart))
                    runStart = index &+ 1
                    escape(current)
                }
                index &+= 1
            }
        }
        copy(UnsafeRawBufferPointer(start: base + runStart, count: count &- runStart))
        byte(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") &+ value : UInt8(ascii: "a") &+ (value &- 10)
    }

    /// Whether any byte of `word` is below 0x20, a quote or a backslash. Each test is exact for
    /// "some byte is": a borrow into a byte's high bit only happens past a byte that matched.
    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (control | quote | backslash) & highs != 0
    }

    private mutating func escape(_ current: UInt8) {
        byte(UInt8(ascii: "\\"))
        switch current {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): byte(current)
        case 10: byte(UInt8(ascii: "n"))
        case 13: byte(UInt8(ascii: "r"))
        case 9: byte(UInt8(ascii: "t"))
        default:
            literal("u00")
            byte(Self.hexDigit(current >> 4))
            byte(Self.hexDigit(current & 15))
        }
    }

    private mutating func decimal(_ value: Int64) {
        var magnitude = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && magnitude >= scale {
            digits += 1
            scale = scale &* 10
        }
        if value < 0 { byte(UInt8(ascii: "-")) }
        var position = digits
        while position > 0 {
            position -= 1
            pointer.storeBytes(of: UInt8(ascii: "0") &+ UInt8(magnitude % 10), toByteOffset: position, as: UInt8.self)
            magnitude /= 10
        }
        pointer += digits
    }
}
