import CCRC32C
import Testing
@testable import Reservoir

@Suite("CRC32C on both code paths, and Kafka's murmur2")
struct ChecksumAndHashTests {
    static let checkValues: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),  // RFC 3720 B.4
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        (Array(0...31), 0x46DD_794E),
        (Array((0...31).reversed()), 0x113F_DB5C),
        ([], 0),
    ]

    @Test("published check values, portable path")
    func portable() {
        for (bytes, expected) in Self.checkValues {
            #expect(bytes.withUnsafeBytes { reservoir_crc32c_portable(0, $0.baseAddress, $0.count) } == expected)
        }
    }

    @Test("the folding path agrees with the portable one on random lengths and starting values (when the CPU has VPCLMULQDQ)")
    func foldingRandom() {
        guard reservoir_crc32c_folding_available() != 0 else { return }
        var generator = SystemRandomNumberGenerator()
        let data = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for _ in 0..<2000 {
                let offset = Int.random(in: 0..<64, using: &generator)
                let length = Int.random(in: 0...(raw.count - offset), using: &generator)
                let start = UInt32.random(in: 0...UInt32.max, using: &generator)
                let pointer = raw.baseAddress! + offset
                #expect(reservoir_crc32c_folding(start, pointer, length) == reservoir_crc32c_portable(start, pointer, length))
            }
        }
    }

    @Test("published check values, hardware path (when the CPU has SSE4.2)")
    func hardware() {
        guard reservoir_crc32c_hardware_available() != 0 else { return }
        for (bytes, expected) in Self.checkValues {
            #expect(bytes.withUnsafeBytes { reservoir_crc32c_hardware(0, $0.baseAddress, $0.count) } == expected)
        }
        #expect(CRC32C.isHardwareAccelerated)
    }

    @Test("both paths agree on every length and alignment, and when continued")
    func pathsAgree() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<120_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for offset in 0..<9 {
                for length in [
                    0, 1, 3, 7, 8, 9, 15, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 271, 272, 288, 300, 383, 384, 385, 767, 768,
                    769, 1000, 4000, 24_575, 24_576, 24_577, 50_000, 119_000,
                ] where offset + length <= raw.count {
                    let pointer = raw.baseAddress! + offset
                    let portable = reservoir_crc32c_portable(0, pointer, length)
                    #expect(reservoir_crc32c_hardware(0, pointer, length) == portable)
                    if reservoir_crc32c_folding_available() != 0 {
                        #expect(reservoir_crc32c_folding(0, pointer, length) == portable)
                        #expect(
                            reservoir_crc32c_folding(0x1234_5678, pointer, length)
                                == reservoir_crc32c_portable(0x1234_5678, pointer, length))
                    }
                    #expect(reservoir_crc32c(0, pointer, length) == portable)
                    let half = length / 2
                    let continued = reservoir_crc32c_portable(reservoir_crc32c_portable(0, pointer, half), pointer + half, length - half)
                    #expect(continued == portable)
                }
            }
        }
    }

    @Test("murmur2 matches Kafka's Utils.murmur2 and kafka-python")
    func murmur2() {
        let cases: [(String, Int32, Int)] = [
            ("21", -973_932_308, 3), ("foobar", -790_332_482, 0), ("a-little-bit-long-string", -985_981_536, 1),
            ("a-little-bit-longer-string", -1_486_304_829, 0),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971, 3), ("abc", 479_470_107, 4),
            ("", 275_646_681, 2), ("user-42", 1_459_644_460, 1),
        ]
        for (key, hash, partitionOf7) in cases {
            #expect(Partitioner.murmur2(Array(key.utf8)) == hash)
            #expect(Partitioner.partition(forKey: Array(key.utf8), partitions: 7) == partitionOf7)
        }
    }
}
