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
                let encoded = try bytes.withUnsafeBytes { try pipeline.validate(clientBatch: $0) }
                let log = try store.log(topic: "in", partition: 0)
                let base = log.endOffset
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
}
