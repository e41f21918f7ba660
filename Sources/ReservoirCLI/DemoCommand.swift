import ArgumentParser
import Foundation
import Reservoir

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "An end-to-end run on a temporary store: append, read back, reopen, verify.")

    @Option(help: "Records to append.") var records = 2_000_000
    @Option(name: .customLong("record-size"), help: "Value size in bytes.") var recordSize = 100
    @Option(help: "Store directory (default: a new temporary one, removed afterwards).") var dir: String?

    func run() throws {
        let path = dir ?? NSTemporaryDirectory() + "reservoir-demo-\(getpid())"
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: path) } }
        print("store: \(path)")
        let batch = 1000
        var values: [Record] = []
        for i in 0..<batch {
            var value = Array("{\"order\":\(i),\"user\":\"u\(i % 977)\",\"sku\":\"SKU-\(i % 131)\"".utf8)
            while value.count < recordSize - 1 { value.append(UInt8(ascii: " ")) }
            value.append(UInt8(ascii: "}"))
            values.append(Record(key: Array("user-\(i % 977)".utf8), value: value))
        }
        for codec in [CompressionCodec.none, .lz4] {
            let store = try Reservoir.open(at: path)
            let topic = "orders-\(codec)"
            try store.createTopic(topic, config: TopicConfig(partitions: 1, compression: codec))
            let start = Date()
            var appended = 0
            while appended < records {
                try store.append(to: topic, records: values, partition: 0, acks: .buffered)
                appended += batch
            }
            try store.log(topic: topic, partition: 0).flush()
            let appendSeconds = Date().timeIntervalSince(start)
            let bytes = try store.log(topic: topic, partition: 0).sizeInBytes
            try store.close()

            let reopened = try Reservoir.open(at: path)
            let log = try reopened.log(topic: topic, partition: 0)
            let readStart = Date()
            let decoder = RecordDecoder()
            var offset: Int64 = 0
            var count = 0
            var valueBytes = 0
            while offset < log.endOffset {
                let result = try log.read(from: offset, maxBytes: 4 << 20)
                for batch in result.batches {
                    try decoder.forEachRecord(in: batch) { record in
                        count += 1
                        valueBytes += record.valueCount ?? 0
                    }
                }
                offset = result.nextOffset
            }
            let readSeconds = Date().timeIntervalSince(readStart)
            try reopened.close()
            guard count == appended, valueBytes == appended * recordSize else {
                throw CLIFailure("read back \(count) records (\(valueBytes) value bytes), expected \(appended)")
            }
            print("\(codec): appended \(appended) records (\(bytes / 1_000_000) MB on disk) at \(rate(appended, appendSeconds)) records/s; read them back at \(rate(count, readSeconds)) records/s")
        }
        let report = try StoreVerifier.verify(directory: path)
        print("verify: \(report.segments) segments, \(report.batches) batches, \(report.records) records, \(report.isSound ? "sound" : "DAMAGED")")
        if !report.isSound { throw CLIFailure("verification failed") }
    }

    private func rate(_ count: Int, _ seconds: Double) -> String {
        let perSecond = Double(count) / max(seconds, 1e-9)
        return perSecond >= 1e6 ? String(format: "%.1f M", perSecond / 1e6) : String(format: "%.0f", perSecond)
    }
}
