import Foundation
import Testing
@testable import Reservoir

/// Segments written by real Kafka brokers (`../shared/external-kafka/`, beside the repository;
/// never copied into it), read by Reservoir and by kafka-python, record by record.
enum ExternalSegments {
    static let folder = KafkaInteropTests.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/external-kafka").path

    /// Every `.log` file under the folder, sorted.
    static let all: [String] = {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".log") }.sorted().map { folder + "/" + $0 }
    }()
}

@Suite(
    "Segments written by Kafka brokers read as kafka-python reads them", .serialized,
    .enabled(if: !ExternalSegments.all.isEmpty, "the reference segments (../shared/external-kafka) are not beside this repository"))
struct ExternalKafkaTests {

    /// Reservoir's reading of a segment file: every record of every batch (control batches hold
    /// none), stopping at nothing but the end of the file.
    static func decodeWithReservoir(_ path: String) throws -> [LogRecord] {
        let decoder = RecordDecoder()
        var records: [LogRecord] = []
        for entry in try SegmentFileInspector.batches(inLogFile: path) {
            let batch = try #require(entry.batch, "\(path) at byte \(entry.position): \(entry.error ?? "")")
            #expect(entry.crcValid, "\(path) at byte \(entry.position)")
            records += try decoder.records(in: batch)
        }
        return records
    }

    @Test("every record of every broker segment: offsets, timestamps (LogAppendTime too), keys, values, headers")
    func everySegment() throws {
        var total = 0
        var appendTime = 0
        for path in ExternalSegments.all {
            let ours = try Self.decodeWithReservoir(path)
            let (theirs, _) = try KafkaInteropTests.decodeWithKafkaPython([path])
            #expect(ours.count == theirs.count, "\(path)")
            for (mine, other) in zip(ours, theirs) where mine != other {
                Issue.record("\(path) offset \(mine.offset): Reservoir \(mine), kafka-python \(other)")
                break
            }
            total += ours.count
            appendTime += try SegmentFileInspector.batches(inLogFile: path).filter { $0.header?.isLogAppendTime == true }.count
        }
        print("broker segments: \(ExternalSegments.all.count) files, \(total) records, \(appendTime) LogAppendTime batches")
        #expect(total > 1000)
        #expect(appendTime > 0, "no LogAppendTime batch among the reference segments")
    }

    @Test("a LogAppendTime batch: every record's timestamp is the batch's max timestamp, as Kafka defines it")
    func logAppendTime() throws {
        let encoder = try RecordBatchEncoder()
        var bytes = try encoder.encodedBytes(
            (0..<5).map { Record(key: nil, value: [UInt8($0)], timestamp: 1_000 + Int64($0)) }, baseOffset: 0, defaultTimestamp: 0)
        // The broker's append time goes into maxTimestamp; the attribute's bit 3 says so.
        bytes[RecordBatchHeader.Field.attributes + 1] |= 0x08
        BigEndian.store(Int64(9_999), &bytes, RecordBatchHeader.Field.maxTimestamp)
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.Field.attributes...])) }
        BigEndian.store(crc, &bytes, RecordBatchHeader.Field.crc)
        let records = try RecordDecoder().records(in: RecordBatch(copying: bytes))
        #expect(records.map(\.timestamp) == Array(repeating: 9_999, count: 5))
    }
}

/// Batches another Kafka client encodes, in each codec, decoded by Reservoir.
@Suite("Batches kafka-python encodes, in each of Kafka's five codecs")
struct ForeignCodecTests {
    @Test("kafka-python's batches decode exactly: keys, values, nulls, headers, timestamps", arguments: CompressionCodec.allCases)
    func decodeForeignBatches(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let path = dir + "/batches.log"
            let expected = try Oracle.records(try Oracle.run("encode_batches.py", [codec.description, path]))
            #expect(expected.count == 275)
            let batches = try SegmentFileInspector.batches(inLogFile: path)
            #expect(batches.allSatisfy { $0.header?.compression == codec && $0.crcValid })
            #expect(try ExternalKafkaTests.decodeWithReservoir(path) == expected)
        }
    }

    @Test("librdkafka's batches (confluent-kafka, through its mock cluster) decode exactly", arguments: CompressionCodec.allCases)
    func decodeLibrdkafkaBatches(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let path = dir + "/librdkafka.log"
            let expected = try Oracle.records(try Oracle.run("librdkafka_batches.py", [codec.description, path]))
            #expect(expected.count == 250)
            let batches = try SegmentFileInspector.batches(inLogFile: path)
            // librdkafka sends a batch uncompressed when compressing does not make it smaller (a small
            // batch, as a loaded machine's timing can make): most are in the codec, none in another.
            #expect(
                batches.count > 1
                    && batches.allSatisfy {
                        ($0.header?.compression == codec || $0.header?.compression == CompressionCodec.none) && $0.crcValid
                    })
            #expect(batches.contains { $0.header?.compression == codec })
            #expect(try ExternalKafkaTests.decodeWithReservoir(path) == expected)
        }
    }

    @Test(
        "a batch Reservoir writes in each codec reads back exactly; corrupt compressed bytes are a typed error",
        arguments: CompressionCodec.allCases)
    func roundTrip(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let records = (0..<500).map { n in
                Record(
                    key: n % 5 == 0 ? nil : Array("key-\(n)".utf8),
                    value: n % 11 == 0 ? nil : Array(repeating: UInt8(n % 7), count: n % 900),
                    headers: n % 4 == 0 ? [RecordHeader("n", "\(n)")] : [], timestamp: 1_764_000_000_000 + Int64(n))
            }
            let encoder = try RecordBatchEncoder(compression: codec)
            let bytes = try encoder.encodedBytes(records, baseOffset: 100, defaultTimestamp: 0)
            let decoded = try RecordDecoder().records(in: RecordBatch(copying: bytes))
            #expect(decoded.map(\.offset) == Array(100..<600))
            #expect(decoded.map(\.key) == records.map(\.key) && decoded.map(\.value) == records.map(\.value))
            #expect(decoded.map(\.headers) == records.map(\.headers) && decoded.map(\.timestamp) == records.map { $0.timestamp ?? 0 })
            guard codec != .none else { return }
            #expect(bytes.count < records.reduce(0) { $0 + ($1.value?.count ?? 0) }, "\(codec) did not compress")
            // The compressed section cut short or overwritten: an error, never a trap or wrong records.
            for cut in [RecordBatchHeader.size + 1, bytes.count / 2, bytes.count - 1] {
                var damaged = Array(bytes.prefix(cut))
                BigEndian.store(Int32(damaged.count - RecordBatchHeader.logOverhead), &damaged, RecordBatchHeader.Field.batchLength)
                let crc = damaged.withUnsafeBytes {
                    CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[RecordBatchHeader.Field.attributes...]))
                }
                BigEndian.store(crc, &damaged, RecordBatchHeader.Field.crc)
                #expect(throws: FormatError.self, "\(codec) cut at \(cut)") {
                    try RecordDecoder().records(in: RecordBatch(copying: damaged))
                }
            }
            // A small limit is refused, not exceeded.
            #expect(throws: FormatError.decompressedTooLarge(limit: 1000)) {
                try RecordDecoder(maxDecompressedBytes: 1000).records(in: RecordBatch(copying: bytes))
            }
        }
    }
}

extension ForeignCodecTests {
    @Test(
        "librdkafka decodes Reservoir's batches in each codec (produced as they are to its mock cluster, consumed back)",
        arguments: CompressionCodec.allCases)
    func librdkafkaDecodesOurBatches(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let written: [LogRecord]
            do {
                let store = try Reservoir.open(at: dir)
                try store.createTopic("t", config: TopicConfig(compression: codec))
                for round in 0..<3 {
                    try store.append(
                        to: "t",
                        records: (0..<80).map { i in
                            let n = round * 80 + i
                            return Record(
                                key: n % 9 == 0 ? nil : Array("key-\(n)".utf8),
                                value: n % 10 == 0 ? nil : Array(repeating: UInt8(n % 251), count: n % 300),
                                headers: n % 4 == 0 ? [RecordHeader("n", "\(n)")] : [], timestamp: 1_764_000_000_000 + Int64(n))
                        })
                }
                written = try allRecords(store.log(topic: "t", partition: 0))
                try store.close()
            }
            // The mock cluster holds a first record of its own: offsets come one later.
            let decoded = try Oracle.records(
                try Oracle.run("librdkafka_decode.py", [dir + "/topics/t/0/00000000000000000000.log"]), offsetShift: -1)
            // librdkafka hands out an empty key as null: compare keys with that in mind.
            #expect(decoded.count == written.count)
            for (theirs, ours) in zip(decoded, written) {
                #expect(
                    theirs.offset == ours.offset && theirs.timestamp == ours.timestamp && theirs.value == ours.value
                        && theirs.headers == ours.headers)
                #expect(theirs.key == ours.key || (theirs.key == nil && ours.key == []))
            }
        }
    }
}
