import Testing
@testable import Reservoir

@Suite("Record cursor: the short-record path agrees with the checked one; CRCs checked ahead")
struct RecordCursorTests {
    /// Records at the edges of the short path: lengths and deltas of 8191 (two-byte varints) and
    /// 8192 (three), null and empty keys and values, negative timestamp deltas, headers.
    static func edgeRecords() -> [Record] {
        let sizes = [nil, 0, 1, 63, 64, 8191, 8192, 20_000]
        var result: [Record] = []
        for (i, keySize) in sizes.enumerated() {
            for (j, valueSize) in sizes.enumerated() {
                let key = keySize.map { [UInt8](repeating: UInt8(i), count: $0) }
                let value = valueSize.map { [UInt8](repeating: UInt8(j), count: $0) }
                let headers = (i + j) % 5 == 0 ? [RecordHeader("h", [1, 2])] : []
                let timestamp: Int64 = [0, -1, 8191, 8192, -8193, 1_000_000][(i + j) % 6]
                result.append(Record(key: key, value: value, headers: headers, timestamp: 1_700_000_000_000 + timestamp))
            }
        }
        return result
    }

    func encoded(_ records: [Record], baseOffset: Int64 = 0) throws -> [UInt8] {
        try RecordBatchEncoder(compression: .none).encodedBytes(records, baseOffset: baseOffset, defaultTimestamp: 0)
    }

    /// Every record of `section` read both ways, wherever the short path takes it.
    func compareBothPaths(_ section: UnsafeRawBufferPointer, header: RecordBatchHeader) -> (short: Int, checked: Int) {
        var position = 0
        var previous: Int32 = -1
        var counts = (short: 0, checked: 0)
        while position < section.count {
            let checked = try? RecordCursor.record(section, at: position, after: previous, header: header)
            if let short = RecordCursor.shortRecord(section, at: position, after: previous, header: header) {
                counts.short += 1
                guard let checked else {
                    Issue.record("the short path read a record at \(position) that the checked path refuses")
                    return counts
                }
                #expect(short.1 == checked.1)
                let (a, b) = (short.0, checked.0)
                #expect(a.offset == b.offset && a.timestamp == b.timestamp && a.offsetDelta == b.offsetDelta)
                #expect(a.key == b.key && a.value == b.value && a.headerCount == b.headerCount)
                #expect(Array(a.rawBytes) == Array(b.rawBytes) && Array(a.tailBytes) == Array(b.tailBytes))
                #expect(Array(a.headerBytes) == Array(b.headerBytes))
            }
            guard let (record, end) = checked else { return counts }
            counts.checked += 1
            position = end
            previous = record.offsetDelta
        }
        return counts
    }

    @Test("edge records: both paths read the same fields, and the short path takes the short ones")
    func edges() throws {
        let input = Self.edgeRecords()
        let bytes = try encoded(input, baseOffset: 500)
        let batch = try RecordBatch(copying: bytes)
        let decoded = try RecordDecoder().records(in: batch)
        #expect(decoded.count == input.count)
        for (i, (got, want)) in zip(decoded, input).enumerated() {
            #expect(got.offset == 500 + Int64(i))
            #expect(got.key == want.key && got.value == want.value && got.headers == want.headers && got.timestamp == want.timestamp)
        }
        let counts = bytes.withUnsafeBytes {
            compareBothPaths(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.size...]), header: batch.header)
        }
        #expect(counts.checked == input.count)
        #expect(counts.short > 0 && counts.short < input.count, "both paths are exercised: \(counts)")
    }

    @Test("a header that declares fewer offsets than the records use: both paths refuse the record past them")
    func offsetsPastTheHeader() throws {
        var bytes = try encoded(records(0..<10, size: 90))
        bytes[RecordBatchHeader.Field.lastOffsetDelta + 3] = 8  // the records' deltas run to 9
        let header = try RecordBatchHeader.validate(bytes.withUnsafeBytes { $0 }, verifyCRC: false)
        let counts = bytes.withUnsafeBytes {
            compareBothPaths(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.size...]), header: header)
        }
        // Records 0 and 7 carry a header, which only the checked path reads.
        #expect(counts.checked == 9 && counts.short == 7)
    }

    @Test("random byte changes: whatever the short path reads, the checked path reads the same")
    func mutations() throws {
        var generator = SystemRandomNumberGenerator()
        let base = try encoded(records(0..<40, size: 90) + Self.edgeRecords().prefix(20))
        let header = try RecordBatchHeader.validate(base.withUnsafeBytes { $0 }, verifyCRC: false)
        var shortReads = 0
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: RecordBatchHeader.size..<bytes.count, using: &generator)] = UInt8.random(
                    in: 0...255, using: &generator)
            }
            shortReads +=
                bytes.withUnsafeBytes { compareBothPaths(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.size...]), header: header) }
                .short
        }
        #expect(shortReads > 0)
    }

    /// Three batches side by side in one buffer, as a log read hands them out.
    func contiguous(_ parts: [[UInt8]]) throws -> [RecordBatch] {
        let storage = ByteBuffer(capacity: parts.reduce(0) { $0 + $1.count })
        var position = 0
        var batches: [RecordBatch] = []
        for part in parts {
            part.withUnsafeBytes { storage.base.advanced(by: position).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            let bytes = UnsafeRawBufferPointer(start: storage.base + position, count: part.count)
            batches.append(RecordBatch(owner: storage, bytes: bytes, header: try RecordBatchHeader.validate(bytes, verifyCRC: false)))
            position += part.count
        }
        return batches
    }

    @Test(
        "batches checked ahead, or each on its own turn: the same records; a damaged batch is refused before any of its records",
        arguments: [true, false])
    func checkingAhead(ahead: Bool) throws {
        func makeDecoder() -> RecordDecoder {
            let decoder = RecordDecoder()
            decoder.checksAhead = ahead
            return decoder
        }
        let parts = try (0..<3).map { try encoded(records($0 * 300..<($0 + 1) * 300, size: 100), baseOffset: Int64($0) * 300) }
        let batches = try contiguous(parts)
        var offsets: [Int64] = []
        try makeDecoder().forEachRecord(in: batches) { offsets.append($0.offset) }
        #expect(offsets == Array(0..<900))

        // One value byte of the middle batch changed: the first batch's records, then the error.
        var damaged = parts
        damaged[1][damaged[1].count - 50] ^= 0x20
        let damagedBatches = try contiguous(damaged)
        offsets = []
        #expect {
            try makeDecoder().forEachRecord(in: damagedBatches) { offsets.append($0.offset) }
        } throws: { error in
            if case .badCRC = error as? FormatError { true } else { false }
        }
        #expect(offsets == Array(0..<300))

        // A checksum taken ahead serves only the batch it was taken of: another batch whose
        // bytes are damaged is checked in full.
        let decoder = makeDecoder()
        try decoder.forEachRecord(in: batches[0], checkingAhead: batches[1]) { _ in }
        #expect(throws: FormatError.self) { try decoder.forEachRecord(in: damagedBatches[1]) { _ in } }
        try decoder.forEachRecord(in: batches[0], checkingAhead: batches[1]) { _ in }
        var count = 0
        try decoder.forEachRecord(in: batches[1]) { _ in count += 1 }
        #expect(count == 300)
    }
}
