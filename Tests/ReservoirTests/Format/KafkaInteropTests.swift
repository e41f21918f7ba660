import Foundation
import Testing
@testable import Reservoir

/// Segment files written by Reservoir, decoded by kafka-python (an independent Kafka
/// implementation) in the virtual environment `make test` prepares under `.build/`.
@Suite("Interoperability: kafka-python decodes Reservoir's segments")
struct KafkaInteropTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func oraclePython() throws -> String {
        let venv = packageRoot.appendingPathComponent(".build/oracle-venv").path
        let python = venv + "/bin/python"
        if !FileManager.default.isExecutableFile(atPath: python) {
            let setup = ChildProcess()
            setup.executableURL = packageRoot.appendingPathComponent("Tests/Oracle/ensure-venv.sh")
            setup.arguments = [venv]
            try setup.run()
            setup.waitUntilExit()
        }
        return python
    }

    /// The records of the segment files at `paths` as kafka-python decodes them, with each
    /// record's batch codec.
    static func decodeWithKafkaPython(_ paths: [String]) throws -> (records: [LogRecord], codecs: [Int]) {
        let text = try Oracle.run("decode_log.py", paths)
        let codecs = try text.split(separator: "\n").compactMap { line -> Int? in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["offset"] != nil else {
                return nil
            }
            return object["codec"] as? Int ?? -1
        }
        return (try Oracle.records(text), codecs)
    }

    @Test("compacted segments (gaps, emptied batches, tombstone horizons) decode the same", arguments: CompressionCodec.allCases)
    func decodeCompactedSegments(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            try store.createTopic(
                "t",
                config: TopicConfig(
                    compression: codec, segmentBytes: 4096, maxRecordBytes: 1024,
                    maxBatchBytes: 4096, cleanup: .compact))
            for start in stride(from: 0, to: 800, by: 10) {
                let batch = (start..<start + 10).map { (n: Int) -> Record in
                    let value: [UInt8]? = n % 13 == 0 ? nil : Array("value-\(n)".utf8)
                    let headers: [RecordHeader] = n % 3 == 0 ? [RecordHeader("trace", "t-\(n)")] : []
                    return Record(key: Array("key-\(n % 37)".utf8), value: value, headers: headers, timestamp: 1_764_000_000_000 + Int64(n))
                }
                try store.append(to: "t", records: batch, acks: .buffered)
            }
            let log = try store.log(topic: "t", partition: 0)
            try waitForRolledSegmentsDurable(log)
            let report = try store.maintain(ignoringDirtyRatio: true)
            #expect(report.recordsRemovedByCompaction > 0)
            let written = try allRecords(log)
            try store.close()
            let partition = dir + "/topics/t/0"
            let logs = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted()
            let (decoded, _) = try Self.decodeWithKafkaPython(logs.map { partition + "/" + $0 })
            #expect(decoded == written)
        }
    }

    @Test("the compaction key digest is MurmurHash3 x64 128 as the reference implementation computes it")
    func keyDigestMatchesReference() async throws {
        try await onOwnThread {
            let keys = (0..<40).map { length in (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) } }
            let script =
                "import mmh3,sys\nfor h in sys.argv[1:]:\n v = mmh3.hash128(bytes.fromhex(h), 0, True) % 2**128\n print(v & (2**64-1), v >> 64)"
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: try Self.oraclePython())
            process.arguments = ["-c", script] + keys.map { $0.map { String(format: "%02x", $0) }.joined() }
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == keys.count)
            for (key, line) in zip(keys, lines) {
                let digest = key.withUnsafeBytes { KeyDigest($0) }
                #expect("\(digest.high) \(digest.low)" == line, "key of \(key.count) bytes")
            }
        }
    }

    @Test("every record of every segment, in each of Kafka's five codecs", arguments: CompressionCodec.allCases)
    func decodeSegments(codec: CompressionCodec) async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t", config: TopicConfig(compression: codec, segmentBytes: 16 * 1024))
            var written: [LogRecord] = []
            var generator = SystemRandomNumberGenerator()
            for round in 0..<40 {
                let batch: [Record] = (0..<Int.random(in: 1...60, using: &generator)).map { i in
                    let n = round * 100 + i
                    return Record(
                        key: n % 5 == 0 ? nil : Array("key-\(n)".utf8),
                        value: n % 11 == 0 ? nil : Array("{\"n\":\(n),\"text\":\"\(String(repeating: "ab", count: n % 50))\"}".utf8),
                        headers: n % 3 == 0 ? [RecordHeader("trace", "t-\(n)"), RecordHeader("empty", nil)] : [],
                        timestamp: 1_764_000_000_000 + Int64(n))
                }
                try store.append(to: "t", records: batch, acks: .buffered)
            }
            written = try allRecords(try store.log(topic: "t", partition: 0))
            try store.close()
            let partition = dir + "/topics/t/0"
            let logs = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted()
            #expect(logs.count > 1)

            let (decoded, codecs) = try Self.decodeWithKafkaPython(logs.map { partition + "/" + $0 })
            #expect(codecs.allSatisfy { $0 == codec.rawValue })
            #expect(decoded.count == written.count)
            #expect(decoded == written)
        }
    }
}

@Suite("Interoperability: Reservoir reads a segment written by a Kafka client")
struct ForeignSegmentTests {
    @Test("a compacted-looking segment with offset gaps: recovery, reads at and inside gaps, appends after it")
    func readsForeignSegmentWithGaps() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir)
                try store.createTopic("k")
                try store.close()
            }
            let partition = dir + "/topics/k/0"
            try Data(try Fixtures.bytes("segment-mixed")).write(to: URL(fileURLWithPath: partition + "/00000000000000000000.log"))
            for file in ["00000000000000000000.index", "00000000000000000000.timeindex"] {
                try? FileManager.default.removeItem(atPath: partition + "/" + file)
            }
            try? FileManager.default.removeItem(atPath: dir + "/.clean-shutdown")

            let store = try Reservoir.open(at: dir)
            defer { try? store.close() }
            let log = try store.log(topic: "k", partition: 0)
            let expected = try #require(Fixtures.vectors.first { $0.name == "segment-mixed" }).records
            #expect(log.openReport.truncatedBytes == 0)
            #expect(log.endOffset == 81)
            #expect(try allRecords(log).map(\.offset) == expected.map(\.offset))
            #expect(try allRecords(log).map(\.value) == expected.map(\.value))
            // Inside the gap 60...69 the read starts at the next record present.
            #expect(try log.read(from: 65, maxBytes: 1).records().first?.offset == 70)
            #expect(try log.read(from: 71, maxBytes: 1).records().first?.offset == 75)
            #expect(try log.read(from: 59, maxBytes: 1).records().first?.offset == 59)
            for record in expected where record.offset % 9 == 0 {
                #expect(try log.offset(forTimestamp: record.timestamp)?.offset ?? -1 <= record.offset)
            }
            // Appends continue after the foreign batches.
            let range = try store.append(to: "k", records: records(0..<3), acks: .durable)
            #expect(range[0].offsets == 81...83)
        }
    }
}
