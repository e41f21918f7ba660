import Testing
@testable import Reservoir

/// The one walk over record batches: where it stands and why it stopped.
@Suite("Batch scanner")
struct BatchScannerTests {
    /// Three batches of 2, 3 and 1 records at offsets 10..., laid end to end.
    static func threeBatches() throws -> (bytes: [UInt8], ends: [Int]) {
        let encoder = try RecordBatchEncoder()
        var bytes: [UInt8] = []
        var ends: [Int] = []
        var offset: Int64 = 10
        for count in [2, 3, 1] {
            bytes += try encoder.encodedBytes(
                (0..<count).map { Record(key: nil, value: [UInt8($0)]) }, baseOffset: offset, defaultTimestamp: 5)
            ends.append(bytes.count)
            offset += Int64(count)
        }
        return (bytes, ends)
    }

    @Test("every batch in order with its position; stops at the end")
    func wholeBatches() throws {
        let (bytes, ends) = try Self.threeBatches()
        bytes.withUnsafeBytes { raw in
            var scanner = BatchScanner(raw, verifyCRC: true, segmentBase: 10)
            var seen: [(Int, Int64, Int64)] = []
            while let entry = scanner.next() { seen.append((entry.position, entry.header.baseOffset, entry.header.lastOffset)) }
            #expect(seen.map(\.0) == [0, ends[0], ends[1]])
            #expect(seen.map(\.1) == [10, 12, 15] && seen.map(\.2) == [11, 14, 15])
            #expect(scanner.stop == .end && scanner.position == bytes.count && scanner.nextOffset == 16)
            #expect(scanner.next() == nil)
        }
    }

    @Test("a torn tail, a flipped byte, and zeros: where and why it stops")
    func stops() throws {
        let (bytes, ends) = try Self.threeBatches()
        let torn = Array(bytes.prefix(ends[1] + 30))
        torn.withUnsafeBytes { raw in
            var scanner = BatchScanner(raw)
            while scanner.next() != nil {}
            #expect(scanner.position == ends[1])
            #expect(scanner.failure == .truncated(position: ends[1], needed: 61, available: 30))
        }
        var flipped = bytes
        flipped[ends[0] + 70] ^= 0x40
        flipped.withUnsafeBytes { raw in
            var checked = BatchScanner(raw, verifyCRC: true)
            while checked.next() != nil {}
            #expect(checked.position == ends[0])
            if case .badCRC = checked.failure {} else { Issue.record("expected a CRC failure, got \(String(describing: checked.stop))") }
            // Without CRC checks the framing is intact: all three pass.
            var framing = BatchScanner(raw)
            var count = 0
            while framing.next() != nil { count += 1 }
            #expect(count == 3 && framing.stop == .end)
        }
        let padded = bytes + [UInt8](repeating: 0, count: 100)
        padded.withUnsafeBytes { raw in
            var scanner = BatchScanner(raw)
            while scanner.next() != nil {}
            #expect(scanner.position == bytes.count && scanner.failure != nil && scanner.restIsZero)
        }
    }

    @Test("offsets that go back stop a segment scan; a scan resumes after bytes it skips")
    func offsetsAndResume() throws {
        let (bytes, ends) = try Self.threeBatches()
        bytes.withUnsafeBytes { raw in
            var scanner = BatchScanner(raw, segmentBase: 10, firstOffset: 13)
            #expect(scanner.next() == nil)
            #expect(scanner.stop == .offsetsOutOfOrder(found: 10...11, expected: 13))
            // Resuming keeps the offsets it expects: the next batch (12...14) still goes back.
            scanner.resume(at: ends[0])
            #expect(scanner.next() == nil)
            scanner.resume(at: ends[1])
            #expect(scanner.next()?.header.baseOffset == 15)
            var skipping = BatchScanner(raw)
            skipping.skip(bytes: ends[1])
            #expect(skipping.next()?.header.baseOffset == 15)
        }
    }
}
