import Foundation
import Testing
@testable import Reservoir

/// The golden vectors from an independent Kafka client, copied under `Fixtures/`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent("\(name).bin")))
    }

    struct Vector {
        var name: String
        var batches: Int
        var codecs: [Int]
        var records: [ExpectedRecord]
    }

    struct ExpectedRecord {
        var offset: Int64
        var timestamp: Int64
        var key: [UInt8]?
        var value: [UInt8]?
        var valueLength: Int?
        var valueSHA256: String?
        var headers: [RecordHeader]
    }

    static let vectors: [Vector] = {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        return root.keys.sorted().compactMap { name -> Vector? in
            guard let entry = root[name] as? [String: Any] else { return nil }
            let records = (entry["records"] as? [[String: Any]] ?? []).map { record in
                ExpectedRecord(
                    offset: (record["offset"] as? NSNumber)?.int64Value ?? -1,
                    timestamp: (record["timestamp"] as? NSNumber)?.int64Value ?? -1,
                    key: (record["key"] as? String).map(hexBytes),
                    value: (record["value"] as? String).map(hexBytes),
                    valueLength: (record["value_len"] as? NSNumber)?.intValue,
                    valueSHA256: record["value_sha256"] as? String,
                    headers: (record["headers"] as? [[Any]] ?? []).map { pair in
                        RecordHeader(pair[0] as? String ?? "", (pair[1] as? String).map(hexBytes))
                    }
                )
            }
            return Vector(
                name: name, batches: (entry["batches"] as? Int) ?? 0,
                codecs: entry["codecs"] as? [Int] ?? [], records: records)
        }
    }()

    static func hexBytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            result.append(UInt8(nibble(high) << 4 | nibble(low)))
        }
        return result
    }

    private static func nibble(_ c: UInt8) -> Int {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(c - UInt8(ascii: "a") + 10)
        default: Int(c - UInt8(ascii: "A") + 10)
        }
    }
}

/// Splits a byte string of back-to-back batches into validated batches.
func splitBatches(_ bytes: [UInt8]) throws -> [RecordBatch] {
    var batches: [RecordBatch] = []
    var position = 0
    while position < bytes.count {
        let header = try bytes.withUnsafeBytes { try RecordBatchHeader.read(from: $0, at: position) }
        let end = position + header.totalSize
        batches.append(try RecordBatch(copying: Array(bytes[position..<min(end, bytes.count)])))
        position = end
    }
    return batches
}

/// The test oracle's Python scripts (`Tests/Oracle/`, run in the virtual environment `make test`
/// prepares) and the records they print as JSON lines: offset, timestamp, and key, value and
/// header values in hex.
enum Oracle {
    /// Runs `script` with `arguments` and returns what it printed; the test fails when it fails.
    static func run(_ script: String, _ arguments: [String]) throws -> String {
        try ChildProcess.output(
            of: KafkaInteropTests.oraclePython(),
            [KafkaInteropTests.packageRoot.appendingPathComponent("Tests/Oracle/" + script).path] + arguments)
    }

    /// The record lines of `text` (lines without an offset, as a file's summary line, are skipped),
    /// with `offsetShift` added to each offset.
    static func records(_ text: String, offsetShift: Int64 = 0) throws -> [LogRecord] {
        try text.split(separator: "\n").compactMap { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let offset = (object["offset"] as? NSNumber)?.int64Value
            else { return nil }
            return LogRecord(
                offset: offset + offsetShift,
                timestamp: (object["timestamp"] as? NSNumber)?.int64Value ?? -1,
                key: (object["key"] as? String).map(Fixtures.hexBytes),
                value: (object["value"] as? String).map(Fixtures.hexBytes),
                headers: (object["headers"] as? [[Any]] ?? []).map {
                    RecordHeader($0[0] as? String ?? "", ($0[1] as? String).map(Fixtures.hexBytes))
                })
        }
    }
}
