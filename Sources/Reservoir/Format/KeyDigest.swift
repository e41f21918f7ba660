/// A 128-bit digest of a record key (MurmurHash3, x64 128-bit variant), what the compaction
/// key map stores instead of the key itself.
///
/// Kafka's cleaner keeps a 16-byte MD5 per key for the same reason: a fixed-size slot per key
/// bounds the map's memory whatever the key sizes. Two different keys share a digest with
/// probability about 2⁻¹²⁸ per pair; the map does not need a cryptographic hash.
struct KeyDigest: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The digest of `key`.
    init(_ key: UnsafeRawBufferPointer) {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1: UInt64 = 0
        var h2: UInt64 = 0
        let count = key.count
        var index = 0
        while index + 16 <= count {
            var k1 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            var k2 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self))
            k1 = Self.rotate(k1 &* c1, 31) &* c2
            h1 ^= k1
            h1 = Self.rotate(h1, 27) &+ h2
            h1 = h1 &* 5 &+ 0x52dc_e729
            k2 = Self.rotate(k2 &* c2, 33) &* c1
            h2 ^= k2
            h2 = Self.rotate(h2, 31) &+ h1
            h2 = h2 &* 5 &+ 0x3849_5ab5
            index += 16
        }
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        var shift: UInt64 = 0
        var tail = index
        while tail < count && tail < index + 8 {
            k1 |= UInt64(key[tail]) << shift
            shift += 8
            tail += 1
        }
        shift = 0
        while tail < count {
            k2 |= UInt64(key[tail]) << shift
            shift += 8
            tail += 1
        }
        if count - index > 8 {
            k2 = Self.rotate(k2 &* c2, 33) &* c1
            h2 ^= k2
        }
        if count - index > 0 {
            k1 = Self.rotate(k1 &* c1, 31) &* c2
            h1 ^= k1
        }
        h1 ^= UInt64(count)
        h2 ^= UInt64(count)
        h1 &+= h2
        h2 &+= h1
        h1 = Self.mix(h1)
        h2 = Self.mix(h2)
        h1 &+= h2
        h2 &+= h1
        high = h1
        low = h2
    }

    @inline(__always)
    private static func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
