import Testing
@testable import Reservoir

@Suite("The decoder is total: malformed input gives typed errors, never a crash")
struct MalformedInputTests {
    func validBatch(_ compression: CompressionCodec = .none, count: Int = 20) throws -> [UInt8] {
        let encoder = try RecordBatchEncoder(compression: compression)
        return try encoder.encodedBytes(records(0..<count, size: 60), baseOffset: 100, defaultTimestamp: 1_700_000_000_000)
    }

    /// Rewrites the CRC so that a test reaches the checks behind it.
    func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 21 else { return bytes }
        var bytes = bytes
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        bytes[17] = UInt8(crc >> 24)
        bytes[18] = UInt8((crc >> 16) & 0xFF)
        bytes[19] = UInt8((crc >> 8) & 0xFF)
        bytes[20] = UInt8(crc & 0xFF)
        return bytes
    }

    func decode(_ bytes: [UInt8], limit: Int = 64 << 20) throws(FormatError) -> [LogRecord] {
        let batch = try RecordBatch(copying: bytes, verifyCRC: true)
        return try RecordDecoder(maxDecompressedBytes: limit).records(in: batch)
    }

    @Test("round trips: random records, null and empty keys, values and headers, unicode", arguments: [CompressionCodec.none, .lz4])
    func roundTrips(codec: CompressionCodec) throws {
        var generator = SystemRandomNumberGenerator()
        let encoder = try RecordBatchEncoder(compression: codec)
        for round in 0..<50 {
            let count = Int.random(in: 1...200, using: &generator)
            let input: [Record] = (0..<count).map { i in
                func bytes() -> [UInt8]? {
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: nil
                    case 1: []
                    default: (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    }
                }
                let headers = (0..<Int.random(in: 0...3, using: &generator)).map { h in
                    RecordHeader(["", "ключ", "k\(h)", "主题"][h % 4], bytes())
                }
                return Record(key: bytes(), value: bytes(), headers: headers, timestamp: Int64(round) * 1000 + Int64(i) - 50)
            }
            let bytes = try encoder.encodedBytes(input, baseOffset: Int64(round) * 1000, defaultTimestamp: 0)
            let decoded = try decode(bytes)
            #expect(decoded.count == input.count)
            for (i, (got, want)) in zip(decoded, input).enumerated() {
                #expect(got.offset == Int64(round) * 1000 + Int64(i))
                #expect(got.key == want.key && got.value == want.value && got.headers == want.headers)
                #expect(got.timestamp == want.timestamp)
            }
        }
    }

    @Test("every truncation is an error", arguments: [CompressionCodec.none, .lz4])
    func truncations(codec: CompressionCodec) throws {
        let bytes = try validBatch(codec)
        #expect(throws: FormatError.self) { try decode([]) }
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self) { try decode(Array(bytes[..<length])) }
        }
    }

    @Test("bad magic, bad CRC, bad length")
    func headerErrors() throws {
        let bytes = try validBatch()
        var magic = bytes
        magic[16] = 1
        #expect(throws: FormatError.badMagic(1)) { try decode(magic) }
        var flipped = bytes
        flipped[bytes.count - 5] ^= 0x10
        #expect { try decode(flipped) } throws: { ($0 as? FormatError).map { if case .badCRC = $0 { true } else { false } } ?? false }
        // A base offset whose last offset would wrap past Int64.max (the base is outside the CRC).
        var wrapping = bytes
        for i in 0..<8 { wrapping[i] = i == 0 ? 0x7F : 0xFF }
        #expect { try decode(wrapping) } throws: {
            ($0 as? FormatError).map { if case .lengthOutOfBounds = $0 { true } else { false } } ?? false
        }
        var negative = bytes
        negative[0] = 0x80
        #expect(throws: FormatError.self) { try decode(negative) }
        var length = bytes
        length[8] = 0x7F
        #expect { try decode(length) } throws: {
            ($0 as? FormatError).map { if case .lengthOutOfBounds = $0 { true } else { false } } ?? false
        }
    }

    @Test("record count that disagrees with the records")
    func countMismatch() throws {
        let bytes = try validBatch()
        var more = bytes
        more[60] = 21
        #expect(throws: FormatError.recordCountMismatch(declared: 21, actual: 20)) { try decode(resealed(more)) }
        var fewer = bytes
        fewer[60] = 19
        #expect { try decode(resealed(fewer)) } throws: {
            ($0 as? FormatError).map { if case .trailingBytes = $0 { true } else { false } } ?? false
        }
        var negative = bytes
        negative[57] = 0xFF
        #expect(throws: FormatError.self) { try decode(resealed(negative)) }
    }

    @Test("varint overflow")
    func varintOverflow() throws {
        var bytes = try validBatch(count: 1)
        // The first record's length varint, made to run on past five bytes.
        for i in 61..<min(bytes.count, 67) { bytes[i] = 0xFF }
        #expect { try decode(resealed(bytes)) } throws: {
            ($0 as? FormatError).map { if case .varintOverflow = $0 { true } else { false } } ?? false
        }
    }

    @Test("corrupt LZ4 frames and oversized output")
    func lz4Errors() throws {
        let bytes = try validBatch(.lz4, count: 200)
        var frame = bytes
        for i in 70..<min(frame.count, 90) { frame[i] = 0xEE }
        #expect(throws: FormatError.self) { try decode(resealed(frame)) }
        #expect(throws: FormatError.decompressedTooLarge(limit: 1000)) { try decode(bytes, limit: 1000) }
        var codec = bytes
        codec[22] = 0x05  // no codec of Kafka's
        #expect(throws: FormatError.unsupportedCompression(codec: 5)) { try decode(resealed(codec)) }
        codec[22] = 0x04  // zstd over LZ4 bytes
        #expect(throws: FormatError.self) { try decode(resealed(codec)) }
    }

    @Test("random corruption of resealed batches never traps", arguments: [CompressionCodec.none, .lz4])
    func randomCorruption(codec: CompressionCodec) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("random corruption seed \(seed)")
        var generator = SeededGenerator(seed: seed)
        let original = try validBatch(codec, count: 30)
        let originalRecords = try decode(resealed(original))
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let index = Int.random(in: 21..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
            // Either a typed error, or records that are what the bytes say: never a trap, and an
            // unchanged batch decodes to the original records.
            do {
                let sealed = resealed(bytes)
                let decoded = try decode(sealed)
                if bytes == original { #expect(decoded == originalRecords, "seed \(seed)") }
                // A batch that decodes holds exactly the records its header counts, at its offsets
                // (a control batch's records are markers, never handed to applications).
                let header = try sealed.withUnsafeBytes { raw throws(FormatError) in try RecordBatchHeader.read(from: raw) }
                #expect(decoded.count == (header.isControl ? 0 : Int(header.recordCount)), "seed \(seed)")
                #expect(decoded.allSatisfy { $0.offset >= header.baseOffset && $0.offset <= header.lastOffset }, "seed \(seed)")
            } catch {
                // A typed decoding error: the expected outcome for most corruptions.
            }
        }
    }
}
