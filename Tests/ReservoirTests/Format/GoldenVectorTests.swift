import Foundation
import Testing
@testable import Reservoir

@Suite("Golden vectors from an independent Kafka client")
struct GoldenVectorTests {
    @Test("every vector is in the manifest")
    func manifestLoaded() {
        #expect(
            Fixtures.vectors.map(\.name) == [
                "large-lz4", "many-lz4", "many-none", "mixed-lz4", "mixed-none", "producer-none", "segment-mixed",
                "single-none",
            ])
    }

    @Test("decodes to exactly the manifest's records", arguments: Fixtures.vectors.map(\.name))
    func decodes(name: String) throws {
        let vector = try #require(Fixtures.vectors.first { $0.name == name })
        let batches = try splitBatches(try Fixtures.bytes(name))
        #expect(batches.count == vector.batches)
        #expect(batches.map { $0.header.compressionCodecValue } == vector.codecs)
        let decoder = RecordDecoder()
        let records = try batches.flatMap { try decoder.records(in: $0) }
        #expect(records.count == vector.records.count)
        for (record, expected) in zip(records, vector.records) {
            #expect(record.offset == expected.offset)
            #expect(record.timestamp == expected.timestamp)
            #expect(record.key == expected.key)
            #expect(record.headers == expected.headers)
            if let length = expected.valueLength, let digest = expected.valueSHA256 {
                #expect(record.value?.count == length)
                #expect(try sha256Hex(record.value ?? []) == digest)
            } else {
                #expect(record.value == expected.value)
            }
        }
    }

    @Test("uncompressed vectors re-encode byte for byte", arguments: ["single-none", "mixed-none", "many-none", "producer-none"])
    func reencodesIdentically(name: String) throws {
        let original = try Fixtures.bytes(name)
        let batch = try #require(try splitBatches(original).first)
        let decoded = try batch.records()
        let encoder = try RecordBatchEncoder()
        let header = batch.header
        let bytes = try encoder.encodedBytes(
            decoded.map { Record(key: $0.key, value: $0.value, headers: $0.headers, timestamp: $0.timestamp) },
            baseOffset: header.baseOffset,
            defaultTimestamp: 0,
            partitionLeaderEpoch: header.partitionLeaderEpoch,
            producer: .init(
                producerId: header.producerId, producerEpoch: header.producerEpoch,
                baseSequence: header.baseSequence))
        #expect(bytes == original)
    }

    @Test("LZ4 vectors re-encode to Kafka's frame layout and decode back", arguments: ["mixed-lz4", "many-lz4", "large-lz4"])
    func reencodesLZ4(name: String) throws {
        let batch = try #require(try splitBatches(try Fixtures.bytes(name)).first)
        let decoded = try batch.records()
        let encoder = try RecordBatchEncoder(compression: .lz4)
        let bytes = try encoder.encodedBytes(
            decoded.map { Record(key: $0.key, value: $0.value, headers: $0.headers, timestamp: $0.timestamp) },
            baseOffset: batch.baseOffset, defaultTimestamp: 0)
        // LZ4 frame magic, FLG 0x60 (independent blocks, no checksums, no content size), BD 0x40 (64 KiB).
        #expect(Array(bytes[61..<67]) == [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40])
        let again = try RecordBatch(copying: bytes)
        #expect(again.header.compression == .lz4)
        #expect(try again.records() == decoded)
    }
}

func sha256Hex(_ bytes: [UInt8]) throws -> String {
    let process = ChildProcess()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(bytes))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data.prefix(64), as: UTF8.self)
}
