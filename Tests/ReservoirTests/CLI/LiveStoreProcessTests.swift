import Foundation
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// Two processes on one store: one writes, the other reads it read-only as it grows.
@Suite("A live store: one process writes, others read", .serialized)
struct LiveStoreProcessTests {
    /// The lines a child process prints, read as they come.
    final class Lines {
        let handle: Foundation.FileHandle
        private var pending: [UInt8] = []
        private(set) var lines: [String] = []

        init(_ pipe: Pipe) { handle = pipe.fileHandleForReading }

        /// Reads until at least `count` lines arrived, the output ends or `seconds` pass.
        @discardableResult
        func wait(for count: Int, seconds: Double = 60) -> [String] {
            let deadline = Date().addingTimeInterval(seconds)
            while lines.count < count, Date() < deadline {
                var ready = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 100) > 0 else { continue }
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let got = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if got <= 0 { break }
                pending += buffer[0..<got]
                while let newline = pending.firstIndex(of: 10) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            return lines
        }
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(10_000)
        }
        return try condition()
    }

    static func start(_ arguments: [String], input: Pipe? = nil) throws -> (ChildProcess, Lines) {
        let process = ChildProcess()
        process.executableURL = reservoirExecutable()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        if let input { process.standardInput = input }
        try process.run()
        return (process, Lines(output))
    }

    /// Record `i`'s value: about 100 bytes, so that small segments roll every few batches.
    static func value(_ i: Int) -> String { "v\(i)" + String(repeating: ".", count: 90) }

    static func records(_ range: Range<Int>, keys: Int) -> [Record] {
        range.map { Record(key: Array("k\($0 % keys)".utf8), value: Array(value($0).utf8)) }
    }

    @Test("`consume --follow` in another process sees every record in order through rolls, retention and a compaction")
    func followerProcess() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let writer = try Reservoir.open(at: dir, options: onDemandMaintenance)
            defer { try? writer.close() }
            try writer.createTopic(
                "t",
                config: TopicConfig(
                    segmentBytes: 8192, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096,
                    cleanup: [.compact, .delete], fileDeleteDelayMs: 0))
            for start in stride(from: 0, to: 100, by: 20) {
                try writer.append(to: "t", records: Self.records(start..<start + 20, keys: 1000), acks: .durable)
            }
            let (follower, lines) = try Self.start(["consume", "t", "--follow", "--format", "%o %v\\n", "--dir", dir])
            defer {
                kill(follower.processIdentifier, SIGKILL)
                follower.waitUntilExit()
            }
            func expected(_ range: Range<Int>) -> [String] { range.map { "\($0) \(Self.value($0))" } }
            #expect(lines.wait(for: 100) == expected(0..<100))

            // Rolls: the writer's segments come and the reader crosses them.
            for start in stride(from: 100, to: 400, by: 20) {
                try writer.append(to: "t", records: Self.records(start..<start + 20, keys: 1000), acks: .durable)
            }
            #expect(try writer.log(topic: "t", partition: 0).segments.count >= 3)
            #expect(lines.wait(for: 400) == expected(0..<400))

            // Retention by size removes the oldest segments while the reader goes on.
            try writer.alterTopic("t", settings: [("retentionBytes", "20000")])
            #expect(try writer.maintain(compaction: false).recordsRemovedByRetention > 0)
            for start in stride(from: 400, to: 450, by: 25) {
                try writer.append(to: "t", records: Self.records(start..<start + 25, keys: 1000), acks: .durable)
            }
            #expect(lines.wait(for: 450) == expected(0..<450))

            // Compaction replaces segments while the reader goes on.
            try writer.alterTopic("t", settings: [("retentionBytes", "-1")])
            let updates = (420..<440).map { Record(key: Array("k\($0)".utf8), value: Array("again\($0)".utf8)) }
            try writer.append(to: "t", records: updates, acks: .durable)
            for start in stride(from: 470, to: 600, by: 10) {
                try writer.append(to: "t", records: Self.records(start..<start + 10, keys: 1000), acks: .durable)
            }
            let log = try writer.log(topic: "t", partition: 0)
            try waitForRolledSegmentsDurable(log)
            #expect(try writer.maintain(retention: false).partitions.first?.compacted == true)
            try writer.append(to: "t", records: [Record(key: Array("last".utf8), value: Array("end".utf8))], acks: .durable)
            let all = expected(0..<450) + (420..<440).map { "\($0 + 30) again\($0)" } + expected(470..<600) + ["600 end"]
            #expect(lines.wait(for: all.count) == all)

            // A reader started now sees the log as the writer has it: retained, compacted.
            let now = try ChildProcess.output(of: reservoirExecutable().path, ["consume", "t", "--format", "%o %v\\n", "--dir", dir])
            let current = try allRecords(log).map { "\($0.offset) \(String(decoding: $0.value ?? [], as: UTF8.self))" }
            #expect(now.split(separator: "\n").map(String.init) == current)
            #expect(!current.contains("420 \(Self.value(420))") && current.contains("450 again420"))
            #expect(!current.contains("0 \(Self.value(0))"))
        }
    }

    @Test("a writer killed with SIGKILL while another process follows: the reader keeps what it read and goes on after the restart")
    func writerKilled() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            func startWriter() throws -> (ChildProcess, Lines, Foundation.FileHandle) {
                let input = Pipe()
                let (process, lines) = try Self.start(["produce", "t", "--create", "--json", "--dir", dir], input: input)
                return (process, lines, input.fileHandleForWriting)
            }
            func send(_ range: Range<Int>, to input: Foundation.FileHandle) {
                input.write(Data(range.map { "r\($0)\n" }.joined().utf8))
            }
            /// Waits until the writer acknowledged offset `last`.
            func acknowledged(_ lines: Lines, _ last: Int) -> Bool {
                Self.eventually { lines.wait(for: lines.lines.count + 1, seconds: 0.2).last?.contains("\"last\":\(last)}") == true }
            }

            var (writer, acks, input) = try startWriter()
            send(0..<100, to: input)
            #expect(acknowledged(acks, 99))
            let reader = try Reservoir.openReadOnly(at: dir)
            defer { try? reader.close() }
            let log = try reader.log(topic: "t", partition: 0)
            var seen: [String] = []
            func readAll(until end: Int64) throws -> Bool {
                try Self.eventually {
                    while Int64(seen.count) < log.endOffset {
                        seen += try log.read(from: Int64(seen.count)).records().map { String(decoding: $0.value ?? [], as: UTF8.self) }
                    }
                    return Int64(seen.count) >= end
                }
            }
            #expect(try readAll(until: 100))
            send(100..<200, to: input)
            #expect(acknowledged(acks, 199))
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            try? input.close()
            #expect(try readAll(until: 200))
            #expect(seen == (0..<200).map { "r\($0)" })

            // The writer comes back (recovering the store); the reader follows its new session.
            (writer, acks, input) = try startWriter()
            send(200..<300, to: input)
            #expect(acknowledged(acks, 299))
            #expect(try readAll(until: 300))
            #expect(seen == (0..<300).map { "r\($0)" })
            try input.close()
            writer.waitUntilExit()
            #expect(writer.terminationStatus == 0)
        }
    }

    @Test("`consume --follow` in one process prints what `produce` in another writes; write commands name the writer")
    func cliProducerAndConsumer() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            _ = try ChildProcess.output(of: reservoirExecutable().path, ["topic", "create", "events", "--dir", dir])
            let (consumer, lines) = try Self.start(["consume", "events", "--follow", "--max", "50", "--dir", dir])
            let input = Pipe()
            let (producer, _) = try Self.start(["produce", "events", "--dir", dir], input: input)
            input.fileHandleForWriting.write(Data((0..<25).map { "line \($0)\n" }.joined().utf8))
            #expect(lines.wait(for: 25) == (0..<25).map { "line \($0)" })

            // While `produce` writes the store, reading commands work and writing ones say who writes it.
            let listed = try ChildProcess.output(of: reservoirExecutable().path, ["topic", "list", "--dir", dir])
            #expect(listed.contains("events"))
            let other = try CommandLineTests().run(["topic", "create", "more", "--dir", dir])
            #expect(other.status == 1)
            #expect(other.stderr.contains("in use by process \(producer.processIdentifier) (reservoir)"))

            input.fileHandleForWriting.write(Data((25..<50).map { "line \($0)\n" }.joined().utf8))
            #expect(lines.wait(for: 50) == (0..<50).map { "line \($0)" })
            consumer.waitUntilExit()
            #expect(consumer.terminationStatus == 0)
            try input.fileHandleForWriting.close()
            producer.waitUntilExit()
            #expect(producer.terminationStatus == 0)
        }
    }

    @Test("reading commands never create a store, and name the directory they did not find")
    func readingCommandsCreateNothing() throws {
        let dir = temporaryDirectory() + "/missing"
        defer { removeDirectory(dir) }
        let listed = try CommandLineTests().run(["topic", "list", "--dir", dir])
        #expect(listed.status == 1)
        #expect(listed.stderr.contains("no store at \(dir)"))
        #expect(!FileManager.default.fileExists(atPath: dir))
    }
}
