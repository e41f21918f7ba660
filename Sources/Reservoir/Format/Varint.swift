/// Zig-zag varint sizes and writers, as Kafka's `ByteUtils`, always in the shortest form (so that
/// batches are byte for byte what Kafka's producer writes).
///
/// These run several times per record on the append path, so they avoid overflow traps (every
/// input is a 32- or 64-bit value whose zig-zag form fits the unsigned type) and take the one- and
/// two-byte forms, which cover lengths below 8 KiB and offset deltas below 8192, without a loop.
@usableFromInline
enum Varint {
    @inlinable @inline(__always)
    static func zigZag(_ value: Int32) -> UInt32 {
        UInt32(bitPattern: (value &<< 1) ^ (value >> 31))
    }

    @inlinable @inline(__always)
    static func zigZag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value &<< 1) ^ (value >> 63))
    }

    @inlinable @inline(__always)
    static func size(_ value: Int32) -> Int {
        sizeOfUnsigned(UInt64(zigZag(value)))
    }

    @inlinable @inline(__always)
    static func size(_ value: Int64) -> Int {
        sizeOfUnsigned(zigZag(value))
    }

    @inlinable @inline(__always)
    static func sizeOfUnsigned(_ raw: UInt64) -> Int {
        // Compares, not a bit count: the common sizes then cost no latency on the chain that sums
        // a record's size (the branches are predicted), where a bit scan and a division would.
        if raw < 0x80 { return 1 }
        if raw < 0x4000 { return 2 }
        return sizeOfLong(raw)
    }

    @usableFromInline
    static func sizeOfLong(_ raw: UInt64) -> Int {
        // Bits needed, rounded up to 7-bit groups.
        let bits = 64 &- raw.leadingZeroBitCount
        return (bits &+ 6) / 7
    }

    /// Writes `value` zig-zag encoded at `pointer`, returning the bytes written.
    @inlinable @inline(__always)
    static func write(_ value: Int32, to pointer: UnsafeMutableRawPointer) -> Int {
        writeUnsigned(UInt64(zigZag(value)), to: pointer)
    }

    @inlinable @inline(__always)
    static func write(_ value: Int64, to pointer: UnsafeMutableRawPointer) -> Int {
        writeUnsigned(zigZag(value), to: pointer)
    }

    @inlinable @inline(__always)
    static func writeUnsigned(_ value: UInt64, to pointer: UnsafeMutableRawPointer) -> Int {
        if value < 0x80 {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            return 1
        }
        if value < 0x4000 {
            let pair = UInt16(truncatingIfNeeded: value & 0x7f | 0x80) | UInt16(truncatingIfNeeded: value >> 7) &<< 8
            pointer.storeBytes(of: pair.littleEndian, as: UInt16.self)
            return 2
        }
        return writeLong(value, to: pointer)
    }

    @usableFromInline
    static func writeLong(_ value: UInt64, to pointer: UnsafeMutableRawPointer) -> Int {
        var raw = value
        var index = 0
        while raw >= 0x80 {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: raw) | 0x80, toByteOffset: index, as: UInt8.self)
            raw >>= 7
            index &+= 1
        }
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: raw), toByteOffset: index, as: UInt8.self)
        return index &+ 1
    }
}
