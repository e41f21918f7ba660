import Testing
@testable import Reservoir

@Suite("RecordBatchBuilder: in-place encoding and builder appends")
struct RecordBatchBuilderTests {
    @Test("builds exactly the bytes the encoder builds from the same records", arguments: [CompressionCodec.none, .lz4])
    func sameBytes(codec: CompressionCodec) throws {
        let input = records(0..<300, size: 80, timestamp: { 1_764_000_000_000 + Int64($0 % 17) })
        let builder = try RecordBatchBuilder(compression: codec)
        for record in input { try builder.append(record) }
        #expect(builder.count == 300)
        let built = try builder.encodedBytes(baseOffset: 42)
        let encoded = try RecordBatchEncoder(compression: codec).encodedBytes(input, baseOffset: 42, defaultTimestamp: 0)
        #expect(built == encoded)
        // Again after a reset, with raw buffers.
        builder.reset()
        for record in input {
            try record.key!.withUnsafeBytes { key in
                try record.value!.withUnsafeBytes { value in
                    try builder.append(key: key, value: value, headers: record.headers, timestamp: record.timestamp)
                }
            }
        }
        #expect(try builder.encodedBytes(baseOffset: 42) == encoded)
    }

    @Test("null keys and values, empty ones, and the batch start time for missing timestamps")
    func nullsAndTimes() throws {
        let builder = try RecordBatchBuilder()
        try builder.append(key: nil as [UInt8]?, value: nil as [UInt8]?)
        try builder.append(key: [], value: [])
        try builder.append(key: [1], value: [2], headers: [RecordHeader("h", nil)], timestamp: 5)
        let batch = try RecordBatch(copying: try builder.encodedBytes())
        let decoded = try batch.records()
        #expect(decoded.map(\.key) == [nil, [], [1]])
        #expect(decoded.map(\.value) == [nil, [], [2]])
        #expect(decoded[2].headers == [RecordHeader("h", nil)])
        #expect(decoded[2].timestamp == 5)
        #expect(decoded[0].timestamp == decoded[1].timestamp && decoded[0].timestamp > 1_700_000_000_000)
    }

    @Test("appends through the store, empties the builder; limits leave everything untouched")
    func storeAppend() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(partitions: 2, compression: .lz4, maxRecordBytes: 500))
        let builder = try store.makeBatchBuilder(for: "t")
        #expect(builder.compression == .lz4)
        for record in records(0..<100) { try builder.append(record) }
        let first = try await store.append(to: "t", batch: builder, partition: 1, acks: .buffered)
        #expect(first == .init(partition: 1, offsets: 0...99))
        #expect(builder.isEmpty)
        for record in records(100..<150) { try builder.append(record) }
        let second = try await store.append(to: "t", batch: builder, partition: 1, acks: .durable)
        #expect(second.offsets == 100...149)
        let got = try store.read(topic: "t", partition: 1, from: 0, maxBytes: 1 << 20).records()
        #expect(got.map(\.value) == records(0..<150).map(\.value))

        try builder.append(key: nil, value: [UInt8](repeating: 7, count: 1000))
        let error = #expect(throws: ReservoirError.self) { try store.append(to: "t", batch: builder, partition: 0) }
        #expect(error?.code == .recordTooLarge)
        #expect(builder.count == 1)
        #expect(try store.log(topic: "t", partition: 0).endOffset == 0)
        try store.close()
    }
}
