import Foundation
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// Idempotent Kafka producers (`enable.idempotence=true`, librdkafka) against `reservoir serve`.
@Suite("Kafka idempotent producers: every record once, across a server crash", .serialized)
struct KafkaIdempotenceTests {
    /// The records of `topic` in the store at `directory`: "partition/offset" to value.
    static func stored(_ directory: String, topic: String) throws -> (values: [String: String], producerIds: Set<Int64>) {
        let store = try Reservoir.open(at: directory)
        defer { try? store.close() }
        var values: [String: String] = [:]
        var producers: Set<Int64> = []
        for partition in 0..<3 {
            let log = try store.log(topic: topic, partition: partition)
            for record in try allRecords(log) {
                values["\(partition)/\(record.offset)"] = record.value.map { String(decoding: $0, as: UTF8.self) }
            }
            var offset = log.startOffset
            while offset < log.endOffset {
                let result = try log.read(from: offset)
                producers.formUnion(result.batches.map(\.header.producerId))
                offset = result.nextOffset
            }
        }
        return (values, producers)
    }

    @Test("an idempotent producer in each codec: the delivery reports are exactly what the store holds, in batches with its producer id")
    func everyCodec() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(directory: dir + "/store")
            let output = try Oracle.run("kafka_idempotent.py", ["\(server.port)", "codecs"])
            server.stop()
            let lines = output.split(separator: "\n")
            #expect(lines.last == "ok")
            for codec in CompressionCodec.allCases {
                let reports = lines.filter { $0.hasPrefix("\(codec) ") }.map { $0.split(separator: " ").map(String.init) }
                #expect(reports.count == 300, "\(codec)")
                let (values, producers) = try Self.stored(dir + "/store", topic: "idem-\(codec)")
                #expect(values.count == 300, "\(codec): \(values.count) records stored")
                #expect(reports.allSatisfy { values["\($0[1])/\($0[2])"] == $0[3] }, "\(codec)")
                #expect(producers.count == 1 && (producers.first ?? -1) >= 0, "\(codec): producer ids \(producers)")
            }
        }
    }

    @Test(
        "the server killed with SIGKILL three times and restarted on its port while an idempotent acks=all producer runs: every record once"
    )
    func crashAndRetry() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let count = 20_000
            let server = try ServedStore(directory: dir + "/store")
            let port = server.port
            let producer = ChildProcess()
            producer.executableURL = URL(fileURLWithPath: try KafkaInteropTests.oraclePython())
            producer.arguments = [
                KafkaInteropTests.packageRoot.appendingPathComponent("Tests/Oracle/kafka_idempotent.py").path, "\(port)", "stream",
                "\(count)",
            ]
            let output = Pipe()
            producer.standardOutput = output
            producer.standardError = FileHandle.nullDevice
            try producer.run()
            var text = ""
            let handle = output.fileHandleForReading
            var running = server
            // Three times mid-stream: batches in flight are written, or not, when the server dies;
            // the producer sends them again to the restarted server.
            for acknowledgements in [3000, 8000, 13000] {
                while text.split(separator: "\n").count < acknowledgements {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                running.stop(SIGKILL)
                running = try ServedStore(directory: dir + "/store", port: port)
            }
            text += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            producer.waitUntilExit()
            running.stop()
            let lines = text.split(separator: "\n")
            #expect(lines.last == "done 0")
            let acknowledged = lines.dropLast().map { $0.split(separator: " ").map(String.init) }.filter { $0.count == 3 }
            #expect(acknowledged.count == count)

            let (values, _) = try Self.stored(dir + "/store", topic: "idem")
            // Each record once: as many stored as sent, each where its acknowledgement said.
            #expect(values.count == count, "\(values.count) records stored for \(count) sent")
            #expect(Set(values.values).count == values.count)
            let misplaced = acknowledged.filter { values["\($0[0])/\($0[1])"] != $0[2] }
            #expect(misplaced.isEmpty, "\(misplaced.count) acknowledgements do not match the store, first \(misplaced.prefix(3))")
        }
    }
}
