import Foundation
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// `reservoir serve` in a child process, on a free loopback port, used by real Kafka clients.
final class ServedStore {
    let directory: String
    let process = ChildProcess()
    private(set) var port = 0
    private let log: Pipe

    /// Starts the server and waits for its "listening on" line.
    init(directory: String, arguments: [String] = ["--auto-create-topics", "--default-partitions", "3"]) throws {
        self.directory = directory
        process.executableURL = reservoirExecutable()
        process.arguments = ["serve", "--dir", directory, "--listen", "127.0.0.1:0"] + arguments
        log = Pipe()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        var text = ""
        let handle = log.fileHandleForReading
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: "listening on 127.0.0.1:"),
                let port = Int(text[range.upperBound...].prefix { $0.isNumber })
            {
                self.port = port
                return
            }
        }
        Issue.record("the server did not start: \(text)")
    }

    /// Sends `signal` and waits for the process to end.
    func stop(_ signal: Int32 = SIGTERM) {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }
}

@Suite("Kafka's wire protocol: real clients against reservoir serve", .serialized)
struct KafkaServerTests {
    @Test("kafka-python and librdkafka (every codec) produce with acks=all and consume back; the store holds what they produced")
    func realClients() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let server = try ServedStore(directory: dir + "/store")
        let output = try Oracle.run("kafka_clients.py", ["\(server.port)"])
        #expect(output.hasSuffix("ok\n"))
        server.stop()
        #expect(server.process.terminationStatus == 143)

        // What kafka-python was told it produced is exactly what the store holds.
        let produced = try output.split(separator: "\n").dropLast().map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let store = try Reservoir.open(at: dir + "/store")
        defer { try? store.close() }
        #expect(store.openedAfterCleanShutdown)
        var stored: [String: (key: [UInt8]?, value: [UInt8]?)] = [:]
        for partition in 0..<3 {
            for record in try allRecords(store.log(topic: "kp", partition: partition)) {
                stored["\(partition)/\(record.offset)"] = (record.key, record.value)
            }
        }
        #expect(stored.count == produced.count && produced.count == 300)
        for entry in produced {
            let key = "\(entry["partition"] as? Int ?? -1)/\(entry["offset"] as? Int ?? -1)"
            #expect(stored[key]?.key == (entry["key"] as? String).map(Fixtures.hexBytes))
            #expect(stored[key]?.value == (entry["value"] as? String).map(Fixtures.hexBytes))
        }
        // librdkafka's batches are stored as it compressed them.
        for codec in CompressionCodec.allCases {
            let batches = try (0..<3).flatMap {
                try store.log(topic: "rd-\(codec)", partition: $0).read(from: 0, maxBytes: 64 << 20).batches
            }
            #expect(
                !batches.isEmpty && batches.allSatisfy { $0.header.compression == codec || $0.header.compression == CompressionCodec.none })
            // librdkafka uses LZ4 only with brokers that advertise FindCoordinator (its LZ4
            // feature flag), a group API that comes with consumer groups; until then it sends
            // those batches uncompressed.
            if codec != .lz4 && !batches.contains(where: { $0.header.compression == codec }) {
                Issue.record("no \(codec) batch: \(batches.map { String(describing: $0.header.compression) })")
            }
        }
        let problems = try StoreVerifier.verify(directory: dir + "/store").problems
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("garbage, a truncated frame and an oversized frame close that connection only; the server keeps serving")
    func badInput() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let server = try ServedStore(directory: dir + "/store")
        defer { server.stop() }
        let frames: [[UInt8]] = [
            [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],  // negative size
            [0x7F, 0, 0, 0],  // far over the limit
            [0, 0, 0, 12, 0, 18, 0, 3, 0, 0, 0, 1, 0xFF],  // ApiVersions v3 cut inside its header
            [0, 0, 0, 8, 0x7F, 0x7F, 0, 0, 0, 0, 0, 1],  // an API this broker does not serve
            Array((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }),
        ]
        for frame in frames {
            let socket = try Self.connect(port: server.port)
            defer { close(socket) }
            _ = frame.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(socket, Int32(SHUT_WR))
            // The server answers nothing it cannot parse and closes the connection.
            var buffer = [UInt8](repeating: 0, count: 64)
            #expect(recv(socket, &buffer, buffer.count, 0) <= 0)
        }
        // A well-formed ApiVersions v0 is still answered.
        let socket = try Self.connect(port: server.port)
        defer { close(socket) }
        let request: [UInt8] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 42, 0, 0]
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(socket, &buffer, buffer.count, MSG_WAITALL == 0 ? 0 : 0)
        #expect(count >= 14)
        #expect(Array(buffer[4..<8]) == [0, 0, 0, 42])  // the correlation id
        #expect(Array(buffer[8..<10]) == [0, 0])  // no error
    }

    static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(result == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return socket
    }
}
