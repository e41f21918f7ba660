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
    init(directory: String, port: Int = 0, arguments: [String] = ["--auto-create-topics", "--default-partitions", "3"]) throws {
        self.directory = directory
        process.executableURL = reservoirExecutable()
        process.arguments = ["serve", "--dir", directory, "--listen", "127.0.0.1:\(port)"] + arguments
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
    func realClients() async throws {
        try await onOwnThread {
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
            // librdkafka's batches are stored as it compressed them (it sends LZ4 only to brokers
            // that advertise a group API, as this one does).
            for codec in CompressionCodec.allCases {
                let batches = try (0..<3).flatMap {
                    try store.log(topic: "rd-\(codec)", partition: $0).read(from: 0, maxBytes: 64 << 20).batches
                }
                #expect(!batches.isEmpty && batches.allSatisfy { $0.header.compression == codec }, "\(codec)")
            }
            try store.close()
            // The command line reads the same records, and verify calls the store sound.
            let consumed = try CommandLineTests().run(["consume", "kp", "--dir", dir + "/store", "--json"])
            #expect(consumed.status == 0)
            var printed: [String: (key: [UInt8]?, value: [UInt8]?)] = [:]
            for line in consumed.stdout.split(separator: "\n") {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                printed["\(object["partition"] as? Int ?? -1)/\(object["offset"] as? Int ?? -1)"] = (
                    (object["key"] as? String).map { Array($0.utf8) }, (object["value"] as? String).map { Array($0.utf8) }
                )
            }
            #expect(printed.count == stored.count)
            #expect(printed.allSatisfy { stored[$0.key]?.key == $0.value.key && stored[$0.key]?.value == $0.value.value })
            let verify = try CommandLineTests().run(["verify", "--dir", dir + "/store"])
            #expect(verify.status == 0 && verify.stdout.contains("sound"), "\(verify.stdout)")
        }
    }

    @Test("garbage, a truncated frame and an oversized frame close that connection only; the server keeps serving")
    func badInput() async throws {
        try await onOwnThread {
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
    }

    /// A TCP socket and what connecting it to 127.0.0.1:`port` returned (0 when connected).
    static func attempt(port: Int) -> (socket: Int32, result: Int32) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return (socket, result)
    }

    static func connect(port: Int) throws -> Int32 {
        let (socket, result) = attempt(port: port)
        try #require(result == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return socket
    }
}

extension KafkaServerTests {
    @Test("the Python and C client examples of Docs/KAFKA.md run against it as written, and the Python one against tansu too")
    func documentedClients() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(
                directory: dir + "/store", arguments: ["--auto-create-topics", "--group-initial-rebalance-delay-ms", "0"])
            defer { server.stop() }
            let docs = try String(contentsOf: KafkaInteropTests.packageRoot.appendingPathComponent("Docs/KAFKA.md"), encoding: .utf8)
            func example(_ language: String) throws -> String {
                let start = try #require(docs.range(of: "```\(language)\n"), "no \(language) example")
                let end = try #require(docs.range(of: "\n```", range: start.upperBound..<docs.endIndex))
                return String(docs[start.upperBound..<end.lowerBound]).replacingOccurrences(
                    of: "127.0.0.1:9092", with: "127.0.0.1:\(server.port)")
            }
            let expected = (0..<3).map { "\($0) user-42 {\"total\":\(40 + $0)}" }
            let python = dir + "/orders.py"
            try example("python").write(toFile: python, atomically: true, encoding: .utf8)
            let fromPython = try ChildProcess.output(of: KafkaInteropTests.oraclePython(), [python])
            #expect(fromPython.split(separator: "\n").map(String.init) == expected)

            // The same program, unchanged but for the address, against tansu, another
            // Kafka-compatible broker: nothing in it is particular to Reservoir.
            let tansu = try Tansu()
            defer { tansu.stop() }
            try tansu.createTopic("orders", partitions: 1)
            let peerPort = tansu.port
            let elsewhere = dir + "/orders-elsewhere.py"
            try String(contentsOfFile: python, encoding: .utf8).replacingOccurrences(
                of: "127.0.0.1:\(server.port)", with: "127.0.0.1:\(peerPort)"
            ).write(toFile: elsewhere, atomically: true, encoding: .utf8)
            #expect(
                try ChildProcess.output(of: KafkaInteropTests.oraclePython(), [elsewhere]).split(separator: "\n").map(String.init)
                    == expected)

            let source = dir + "/orders.c"
            try example("c").write(toFile: source, atomically: true, encoding: .utf8)
            let compiler = try #require(Self.executableInPath(["cc", "clang", "gcc"]), "a C compiler")
            _ = try ChildProcess.output(of: compiler, [source, "-o", dir + "/orders", "-lrdkafka"])
            let fromC = try ChildProcess.output(of: dir + "/orders", [])
            #expect(fromC.split(separator: "\n").map(String.init) == ["delivered at offset 3"] + expected + ["3 user-42 {\"total\":43}"])
        }
    }

    /// A loopback port nothing listens on at the moment.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The first of `names` found in PATH.
    static func executableInPath(_ names: [String]) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for name in names {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    /// Runs kcat (Debian's, on librdkafka 2.0) with `arguments`, `input` on its standard input.
    static func kcat(_ arguments: [String], input: String? = nil) throws -> String {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "kcat \(arguments) failed")
        return String(decoding: data, as: UTF8.self)
    }

    @Test("kcat: keyed records with headers to several partitions, consumed back as JSON, metadata, from an offset and from a timestamp")
    func kcat() async throws {
        try await onOwnThread {
            try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/kcat"), "kcat is installed by make deps")
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(directory: dir + "/store")
            defer { server.stop() }
            let broker = "127.0.0.1:\(server.port)"
            let before = Int64(Date().timeIntervalSince1970 * 1000) - 1000
            let lines = (0..<60).map { "key-\($0 % 7):value-\($0)" }
            _ = try Self.kcat(["-b", broker, "-t", "kc", "-P", "-K:", "-H", "source=kcat"], input: lines.joined(separator: "\n") + "\n")
            let consumed = try Self.kcat(["-b", broker, "-t", "kc", "-C", "-e", "-J"]).split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            #expect(consumed.count == 60)
            let pairs = Set(consumed.map { "\($0["key"] as? String ?? ""):\($0["payload"] as? String ?? "")" })
            #expect(pairs == Set(lines))
            #expect(consumed.allSatisfy { ($0["headers"] as? [String]) == ["source", "kcat"] })
            #expect(Set(consumed.map { $0["partition"] as? Int ?? -1 }).count > 1)
            // Each key on one partition, as Kafka's partitioner puts it.
            for (key, partitions) in Dictionary(grouping: consumed, by: { $0["key"] as? String ?? "" }) {
                #expect(Set(partitions.map { $0["partition"] as? Int ?? -1 }).count == 1, "\(key)")
            }
            let metadata = try Self.kcat(["-b", broker, "-L", "-t", "kc"])
            #expect(metadata.contains("topic \"kc\" with 3 partitions"))
            #expect(metadata.contains("broker 0 at \(broker)"))
            let fromOffset = try Self.kcat(["-b", broker, "-t", "kc", "-C", "-e", "-p", "0", "-o", "2", "-f", "%o\\n"])
            let partitionZero = consumed.filter { $0["partition"] as? Int == 0 }.count
            #expect(fromOffset.split(separator: "\n").map(String.init) == (2..<partitionZero).map(String.init))
            let fromTime = try Self.kcat(["-b", broker, "-t", "kc", "-C", "-e", "-o", "s@\(before)", "-f", "%s\\n"])
            #expect(fromTime.split(separator: "\n").count == 60)
            let afterwards = try Self.kcat(["-b", broker, "-t", "kc", "-C", "-e", "-o", "s@\(before + 3_600_000)", "-f", "%s\\n"])
            #expect(afterwards.isEmpty)
            // Enough records that fetches are sent from the segment files (sendfile): every one back,
            // in order.
            let many = (0..<6000).map { "record-\($0)-" + String(repeating: "x", count: 90) }
            _ = try Self.kcat(["-b", broker, "-t", "bulk", "-P", "-p", "0"], input: many.joined(separator: "\n") + "\n")
            let bulk = try Self.kcat(["-b", broker, "-t", "bulk", "-C", "-e", "-p", "0", "-f", "%o %s\\n"])
            #expect(bulk.split(separator: "\n").map(String.init) == many.enumerated().map { "\($0.offset) \($0.element)" })
        }
    }
}

extension KafkaServerTests {
    @Test("the server killed with SIGKILL while an acks=all producer runs: after restart every acknowledged record is there")
    func killedWhileProducing() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(directory: dir + "/store")
            let producer = ChildProcess()
            producer.executableURL = URL(fileURLWithPath: try KafkaInteropTests.oraclePython())
            producer.arguments = [
                KafkaInteropTests.packageRoot.appendingPathComponent("Tests/Oracle/kafka_acked_producer.py").path, "\(server.port)", "20",
            ]
            let output = Pipe()
            producer.standardOutput = output
            try producer.run()
            // Kill the server once acknowledgements flow.
            var text = ""
            let handle = output.fileHandleForReading
            while text.split(separator: "\n").count < 2000 {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            server.stop(SIGKILL)
            text += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            producer.waitUntilExit()
            let acknowledged = text.split(separator: "\n").compactMap { line -> (Int, Int64, String)? in
                let fields = line.split(separator: " ")
                guard fields.count == 3, let partition = Int(fields[0]), let offset = Int64(fields[1]) else { return nil }
                return (partition, offset, String(fields[2]))
            }
            #expect(acknowledged.count >= 2000)

            let store = try Reservoir.open(at: dir + "/store")
            defer { try? store.close() }
            #expect(!store.openedAfterCleanShutdown)
            var stored: [String: String] = [:]
            for partition in 0..<3 {
                for record in try allRecords(store.log(topic: "acked", partition: partition)) {
                    stored["\(partition)/\(record.offset)"] = record.value.map { String(decoding: $0, as: UTF8.self) }
                }
            }
            let missing = acknowledged.filter { stored["\($0.0)/\($0.1)"] != $0.2 }
            #expect(missing.isEmpty, "\(missing.count) acknowledged records missing, first \(missing.prefix(3))")
        }
    }
}

extension KafkaServerTests {
    @Test("kafka-python's admin client: create topics with a config, describe it, add partitions, delete records, delete a topic")
    func adminClient() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(directory: dir + "/store", arguments: [])
            let output = try Oracle.run("kafka_admin.py", ["\(server.port)"])
            #expect(output == "ok\n")
            server.stop()
            let store = try Reservoir.open(at: dir + "/store")
            defer { try? store.close() }
            #expect(store.topicNames == ["admin-b"])
            #expect(try store.log(topic: "admin-b", partition: 0).startOffset == 15)
        }
    }
}

extension KafkaServerTests {
    @Test(
        "aiokafka produces gzip batches with acks=all and reads them back, with assigned partitions and in a group; kafka-python's group consumer resumes from its commits"
    )
    func aiokafka() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try ServedStore(
                directory: dir + "/store",
                arguments: ["--auto-create-topics", "--default-partitions", "3", "--group-initial-rebalance-delay-ms", "300"])
            defer { server.stop() }
            #expect(try Oracle.run("kafka_aiokafka.py", ["\(server.port)"]) == "ok\n")
        }
    }
}
