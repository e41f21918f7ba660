/// A bounds-checked reader over bytes that some owner keeps alive (a mapped segment, a buffer).
///
/// Every read checks the remaining length first and throws ``FormatError`` instead of reading
/// past the end, which is what makes the decoders total on arbitrary input. The cursor holds a
/// raw pointer: it is valid only while the bytes' owner is, which every caller scopes.
@usableFromInline
struct ByteCursor {
    @usableFromInline let base: UnsafeRawPointer?
    @usableFromInline let count: Int
    @usableFromInline var position: Int

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.base = bytes.baseAddress
        self.count = bytes.count
        self.position = position
    }

    @inlinable var remaining: Int { count - position }
    @inlinable var isAtEnd: Bool { position >= count }

    @inlinable @inline(__always)
    mutating func readByte() throws(FormatError) -> UInt8 {
        guard position < count, let base else { throw truncated(needing: 1) }
        let byte = base.load(fromByteOffset: position, as: UInt8.self)
        position += 1
        return byte
    }

    /// The next `length` bytes as a buffer into the same memory, advancing past them.
    @inlinable @inline(__always)
    mutating func readBytes(_ length: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        guard length >= 0, length <= remaining else { throw truncated(needing: length) }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let slice = UnsafeRawBufferPointer(start: base + position, count: length)
        position += length
        return slice
    }

    /// The error for a read of `length` bytes that are not there, out of line.
    @usableFromInline @inline(never)
    func truncated(needing length: Int) -> FormatError {
        .truncated(position: position, needed: length, available: remaining)
    }

    /// The unsigned value of a one- or two-byte varint at the cursor, moving past it; `nil`, with
    /// the cursor where it was, for a longer one or one at the very end. One or two bytes hold
    /// lengths below 8 KiB and most deltas, so that the common varints are read without a loop.
    @inlinable @inline(__always)
    mutating func readShortVarint() -> UInt32? {
        guard position &+ 1 < count, let base else { return nil }
        return Self.shortVarint(base, at: &position)
    }

    /// The unsigned value of a one- or two-byte varint at `position` of `base`, moving past it;
    /// `nil`, with `position` unchanged, for a longer one. The caller has made sure that two bytes
    /// from `position` can be read: this is the check-free step under ``readShortVarint()`` and
    /// under the record cursor's short-record path, which checks once for several fields.
    @inlinable @inline(__always)
    static func shortVarint(_ base: UnsafeRawPointer, at position: inout Int) -> UInt32? {
        let first = UInt32(base.load(fromByteOffset: position, as: UInt8.self))
        if first < 0x80 {
            position &+= 1
            return first
        }
        let second = UInt32(base.load(fromByteOffset: position &+ 1, as: UInt8.self))
        guard second < 0x80 else { return nil }
        position &+= 2
        return first & 0x7F | second &<< 7
    }

    /// The signed value of a zig-zag encoded 32-bit varint.
    @inlinable @inline(__always)
    static func zigzag(_ raw: UInt32) -> Int32 {
        Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zig-zag varint of at most 5 bytes, as Kafka's `ByteUtils.readVarint` (excess high bits of
    /// the fifth byte are dropped, as Kafka drops them).
    @inlinable @inline(__always)
    mutating func readVarint() throws(FormatError) -> Int32 {
        guard let raw = readShortVarint() else { return try readLongVarint() }
        return Self.zigzag(raw)
    }

    @usableFromInline
    mutating func readLongVarint() throws(FormatError) -> Int32 {
        let start = position
        var raw: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = try readByte()
            if shift == 28 && byte & 0x80 != 0 { throw .varintOverflow(position: start) }
            raw |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zig-zag varlong of at most 10 bytes, as Kafka's `ByteUtils.readVarlong`.
    @inlinable @inline(__always)
    mutating func readVarlong() throws(FormatError) -> Int64 {
        guard let short = readShortVarint() else { return try readLongVarlong() }
        return Int64(Self.zigzag(short))  // a two-byte varint's value fits 14 bits either way
    }

    @usableFromInline
    mutating func readLongVarlong() throws(FormatError) -> Int64 {
        let start = position
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            if shift == 63 && byte & 0x80 != 0 { throw .varintOverflow(position: start) }
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }
}

/// Big-endian loads and stores at byte offsets of raw memory, unaligned.
