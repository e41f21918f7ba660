import Foundation
import Testing
@testable import Reservoir

/// The append pipeline's stage for batches a client encoded itself (the Kafka server's path):
/// kafka-python's golden batches go in as they are, get this log's offsets, and read back exactly.
@Suite("Append pipeline: a client's encoded batches")
struct AppendPipelineTests {
    @Test("every golden batch is validated, appended byte for byte after its base offset, and reads back exactly")
    func clientBatches() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("in")
        let pipeline = try AppendPipeline(store, topic: "in")
        var expected: [(offset: Int64, key: [UInt8]?, value: [UInt8]?)] = []
        var appendedBytes: [[UInt8]] = []
        for vector in Fixtures.vectors where vector.records.allSatisfy({ $0.value != nil || $0.valueLength == nil }) {
            for batch in try splitBatches(try Fixtures.bytes(vector.name)) {
                let bytes = Array(batch.bytes)
                // A batch with gaps in its offsets is one a log compacted, never one a producer
                // sends: refused, as Kafka's validator refuses it.
                if Int(batch.header.recordCount) != Int(batch.header.lastOffsetDelta) + 1 {
                    #expect(throws: ReservoirError.self) { try bytes.withUnsafeBytes { try pipeline.validate(clientBatch: $0) } }
                    continue
                }
                let encoded = try bytes.withUnsafeBytes { try pipeline.validate(clientBatch: $0) }
                let log = try store.log(topic: "in", partition: 0)
                let base = log.endOffset
                // An idempotent producer's batch in the middle of its sequence: this partition
                // has never seen the producer, so it is refused as Kafka refuses it.
                if batch.header.producerId >= 0 && batch.header.baseSequence != 0 {
                    #expect {
                        try pipeline.append(encoded, to: 0)
                    } throws: { error in
                        (error as? ReservoirError)?.code == .unknownProducer
                    }
                    #expect(log.endOffset == base)
                    continue
                }
                let (_, offsets) = try pipeline.append(encoded, to: 0)
                #expect(offsets == base...(base + Int64(batch.header.lastOffsetDelta)))
                for record in try batch.records() {
                    expected.append((base + record.offset - batch.baseOffset, record.key, record.value))
                }
                appendedBytes.append(Array(bytes[8...]))
            }
        }
        #expect(!expected.isEmpty)
        let log = try store.log(topic: "in", partition: 0)
        let stored = try allRecords(log)
        #expect(stored.map(\.offset) == expected.map(\.offset))
        #expect(stored.map(\.key) == expected.map(\.key) && stored.map(\.value) == expected.map(\.value))
        // The batches are kept as the client encoded them: only the base offset differs.
        let read = try log.read(from: 0, maxBytes: 64 << 20)
        #expect(read.batches.map { Array($0.bytes[8...]) } == appendedBytes)
    }

    @Test("a client's batch with a flipped byte, trailing bytes, or an unkeyed record on a compacted topic is refused, nothing written")
    func refused() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("c", config: TopicConfig(cleanup: .compact))
        let pipeline = try AppendPipeline(store, topic: "c")
        let good = try RecordBatchEncoder().encodedBytes([Record(key: [1], value: [2])], defaultTimestamp: 7)
        _ = try good.withUnsafeBytes { try pipeline.validate(clientBatch: $0) }
        var flipped = good
        flipped[good.count - 1] ^= 1
        let unkeyed = try RecordBatchEncoder().encodedBytes([Record(key: nil, value: [2])], defaultTimestamp: 7)
        for bad in [flipped, good + [0], unkeyed] {
            #expect(throws: ReservoirError.self) { try bad.withUnsafeBytes { try pipeline.validate(clientBatch: $0) } }
        }
        #expect(try store.log(topic: "c", partition: 0).endOffset == 0)
    }

    /// `bytes` with the big-endian `value` written at `field` and the CRC32C made right again, as
    /// a client that meant it would send it.
    static func rewritten<T: FixedWidthInteger>(_ bytes: [UInt8], field: Int, _ value: T) -> [UInt8] {
        var copy = bytes
        withUnsafeBytes(of: value.bigEndian) { for (index, byte) in $0.enumerated() { copy[field + index] = byte } }
        let crc = copy.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.Field.attributes...])) }
        withUnsafeBytes(of: crc.bigEndian) { for (index, byte) in $0.enumerated() { copy[RecordBatchHeader.Field.crc + index] = byte } }
        return copy
    }

    @Test("Kafka's log validator's rules for a client's batch: the record count is the offset range, no control or transactional batch")
    func validatorRules() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("v")
        let pipeline = try AppendPipeline(store, topic: "v")
        let good = try RecordBatchEncoder().encodedBytes([Record(key: [1], value: [2]), Record(key: [3], value: [4])], defaultTimestamp: 7)
        let attributes = Int16(
            bitPattern: UInt16(good[RecordBatchHeader.Field.attributes]) << 8 | UInt16(good[RecordBatchHeader.Field.attributes + 1]))
        let bad = [
            Self.rewritten(good, field: RecordBatchHeader.Field.recordCount, Int32(1)),  // fewer records than offsets
            Self.rewritten(good, field: RecordBatchHeader.Field.lastOffsetDelta, Int32(5)),  // a gap in the offsets
            Self.rewritten(good, field: RecordBatchHeader.Field.attributes, attributes | 0x20),  // a control batch
            Self.rewritten(good, field: RecordBatchHeader.Field.attributes, attributes | 0x10),  // a transactional batch
        ]
        for bytes in bad {
            #expect(throws: ReservoirError.self) { try bytes.withUnsafeBytes { try pipeline.validate(clientBatch: $0) } }
        }
        #expect(try store.log(topic: "v", partition: 0).endOffset == 0)
    }

    @Test("a client's wrong largest timestamp is set to its records' largest, CRC with it, before retention or the time index see it")
    func maxTimestampCorrected() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t")
        let pipeline = try AppendPipeline(store, topic: "t")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let records = [Record(key: [1], value: [2], timestamp: now - 10), Record(key: [3], value: [4], timestamp: now)]
        let honest = try RecordBatchEncoder().encodedBytes(records, defaultTimestamp: now)
        // Claims the batch is a year old: retention would take it at once.
        let claimed = Self.rewritten(honest, field: RecordBatchHeader.Field.maxTimestamp, now - 365 * 86_400_000)
        let batch = try claimed.withUnsafeBytes { try pipeline.validate(clientBatch: $0) }
        #expect(batch.maxTimestamp == now)
        _ = try pipeline.append(batch, to: 0)
        let stored = try store.log(topic: "t", partition: 0).read(from: 0).batches
        #expect(stored.map(\.header.maxTimestamp) == [now])
        // Byte for byte what an honest client sends, but for the base offset (0 in both).
        #expect(stored.map(\.encodedBytes) == [honest])
        #expect(try RecordBatch(copying: stored[0].encodedBytes, verifyCRC: true).records().map(\.timestamp) == [now - 10, now])
    }
}
