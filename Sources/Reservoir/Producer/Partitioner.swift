/// Kafka's default partitioner for keyed records: `(murmur2(key) & 0x7fffffff) % partitions`, so a
/// key lands on the same partition number as it would in Kafka.
public enum Partitioner {
    /// The partition for `key` among `partitions`.
    public static func partition(forKey key: [UInt8], partitions: Int) -> Int {
        Int(UInt32(bitPattern: murmur2(key)) & 0x7fff_ffff) % partitions
    }

    /// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, seed 0x9747b28c.
    public static func murmur2(_ data: [UInt8]) -> Int32 {
        let length = data.count
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let words = length / 4
        data.withUnsafeBytes { bytes in
            for i in 0..<words {
                var k = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                k = k &* m
                k ^= k >> r
                k = k &* m
                h = h &* m
                h ^= k
            }
        }
        let tail = words * 4
        switch length % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default: break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
