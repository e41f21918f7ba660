import Foundation
import Testing
@testable import Reservoir

/// The `reservoir` command, run as a user would: exit codes, one-line errors, exact output.
@Suite("reservoir CLI")
struct CommandLineTests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `reservoir` with `arguments` (or, with `shell`, `/bin/sh` with them).
    func run(_ arguments: [String], input: String? = nil, shell: Bool = false) throws -> Outcome {
        let process = ChildProcess()
        process.executableURL = shell ? URL(fileURLWithPath: "/bin/sh") : reservoirExecutable()
        process.arguments = arguments
        let output = Pipe()
        // Standard error goes to a file: a child that writes a lot there (a sanitizer's report)
        // must not block on a pipe nobody reads until standard output ends.
        let errorPath = NSTemporaryDirectory() + "reservoir-cli-stderr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errors.close()
        let err = (try? Data(contentsOf: URL(fileURLWithPath: errorPath))) ?? Data()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    @Test(
        "consume's default format: each value on a line, a null or empty value as an empty line, as the parts of another format write them")
    func valueLines() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("v")
            let values: [[UInt8]?] = [Array("a".utf8), nil, [], Array("b\tc".utf8)]
            try store.append(to: "v", records: values.map { Record(key: Array("k".utf8), value: $0) }, partition: 0, acks: .durable)
            try store.close()
        }
        #expect(try run(["consume", "v", "--dir", dir]).stdout == "a\n\n\nb\tc\n")
        #expect(try run(["consume", "v", "--dir", dir, "--format", "%v|%v\\n"]).stdout == "a|a\n|\n|\nb\tc|b\tc\n")
    }

    @Test("produce acknowledges each line as it arrives when input pauses")
    func produceInteractive() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "t", "--dir", dir, "--partitions", "2"]).status == 0)
            let process = ChildProcess()
            process.executableURL = reservoirExecutable()
            process.arguments = ["produce", "t", "--dir", dir, "--json", "--key-separator", ":"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = output.fileHandleForReading
            var acknowledged: [String] = []
            for line in ["a:1", "b:2", "a:3", ":4"] {
                input.fileHandleForWriting.write(Data((line + "\n").utf8))
                // The acknowledgement comes while standard input stays open.
                let ack = String(decoding: reader.availableData, as: UTF8.self)
                acknowledged.append(ack)
            }
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let objects = try acknowledged.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Int]) }
            #expect(objects.map { $0["last"]! - $0["first"]! } == [0, 0, 0, 0])
            // The two records keyed "a" share a partition; each partition's offsets follow the input.
            #expect(objects[0]["partition"] == objects[2]["partition"])
            for partition in 0..<2 {
                let firsts = objects.filter { $0["partition"] == partition }.map { $0["first"]! }
                #expect(firsts == Array(0..<firsts.count))
            }
        }
    }

    @Test("produce, consume, describe, dump and verify a topic")
    func roundTrip() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "orders", "--dir", dir, "--partitions", "2", "--compression", "lz4"]).status == 0)
            let produced = try run(
                ["produce", "orders", "--dir", dir, "--key-separator", ":", "--header", "source=test", "--json"],
                input: "user-1:{\"n\":1}\nuser-2:{\"n\":2}\nuser-1:{\"n\":3}\nno-separator-line\n")
            #expect(produced.status == 0)
            #expect(produced.stderr.hasPrefix("produced 4 records to orders"))
            let acknowledged = produced.stdout.split(separator: "\n")
            #expect(!acknowledged.isEmpty && acknowledged.allSatisfy { $0.hasPrefix("{\"partition\":") })

            let consumed = try run(["consume", "orders", "--dir", dir, "--json"])
            #expect(consumed.status == 0)
            let lines = consumed.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4)
            let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            let userOne = objects.filter { ($0["key"] as? String) == "user-1" }
            #expect(userOne.map { $0["value"] as? String } == ["{\"n\":1}", "{\"n\":3}"])
            #expect(Set(userOne.compactMap { $0["partition"] as? Int }).count == 1)
            let offsets = userOne.compactMap { $0["offset"] as? Int }
            #expect(offsets.count == 2 && offsets[0] < offsets[1])
            let expectedPartition = Partitioner.partition(forKey: Array("user-1".utf8), partitions: 2)
            #expect(userOne.first?["partition"] as? Int == expectedPartition)
            #expect((objects.first { $0["value"] as? String == "no-separator-line" })?["key"] is NSNull)
            #expect((objects[0]["headers"] as? [[String: Any]])?.first?["value"] as? String == "test")

            let values = try run([
                "consume", "orders", "--dir", dir, "--partition", String(expectedPartition),
                "--from", String(offsets.last ?? 0), "--max", "1",
            ])
            #expect(values.stdout == "{\"n\":3}\n")

            let describe = try run(["topic", "describe", "orders", "--dir", dir])
            #expect(describe.status == 0 && describe.stdout.contains("  partitions=2\n  compression=lz4\n"))
            let verify = try run(["verify", "--dir", dir])
            #expect(verify.status == 0 && verify.stdout.contains("sound"))
            // On a terminal (here one `script` makes), a progress line is drawn, here at once,
            // and erased before the result; through pipes, as above, there is none.
            #expect(!verify.stderr.contains("\u{1B}") && !verify.stdout.contains("\u{1B}"))
            let command = "'\(reservoirExecutable().path)' verify --dir '\(dir)'"
            let terminal = try run(["-c", "RESERVOIR_PROGRESS_AFTER_MS=0 script -qec \"\(command)\" /dev/null"], shell: true)
            #expect(terminal.status == 0 && terminal.stdout.hasPrefix("\r\u{1B}[Kverify"), "\(terminal)")
            #expect(terminal.stdout.contains(" records (0 s)") && terminal.stdout.contains("\r\u{1B}[Kchecked 2 segments, "), "\(terminal)")
            let log = dir + "/topics/orders/\(expectedPartition)/00000000000000000000.log"
            let dump = try run(["dump", log, "--records"])
            #expect(dump.status == 0 && dump.stdout.contains("codec: lz4") && dump.stdout.contains("crcValid: true"))
        }
    }

    @Test("errors: one line on stderr, exit 2 for usage and 1 for failures, never a trap")
    func errors() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let usage = try run(["consume"])
            #expect(usage.status == 2)
            #expect(usage.stderr == "reservoir: Missing expected argument '<topic>' (see `reservoir consume --help`)\n")
            #expect(try run(["--version"]).stdout == "reservoir \(Reservoir.version) (store format: \(Reservoir.formatVersion))\n")
            let badName = try run(["topic", "create", "a/b", "--dir", dir])
            #expect(badName.status == 1)
            #expect(badName.stderr == "reservoir: topic name \"a/b\" is invalid: use letters, digits, '.', '_' and '-'\n")
            let missing = try run(["consume", "nope", "--dir", dir])
            #expect(missing.status == 1 && missing.stderr.split(separator: "\n").count == 1)
            let badFrom = try run(["consume", "nope", "--dir", dir, "--from", "yesterday"])
            #expect(badFrom.status == 2)

            // A damaged log: verify reports it and exits 1; dump says where; nothing traps.
            #expect(try run(["produce", "t", "--dir", dir, "--create"], input: "a\nb\nc\n").status == 0)
            // A partition the topic does not have, named by an option or by a JSON line.
            for (arguments, input) in [(["--partition", "5"], "x\n"), (["--input", "json"], "{\"partition\":9,\"value\":\"x\"}\n")] {
                let outcome = try run(["produce", "t", "--dir", dir] + arguments, input: input)
                #expect(
                    outcome.status == 1 && outcome.stderr.hasPrefix("reservoir: topic t has partitions 0..<1, not "), "\(outcome.stderr)")
            }
            let log = dir + "/topics/t/0/00000000000000000000.log"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: log))
            bytes[bytes.count - 3] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: log))
            let verify = try run(["verify", "--dir", dir])
            #expect(verify.status == 1 && verify.stdout.contains("damaged:") && verify.stdout.contains("CRC"))
            let dump = try run(["dump", log])
            #expect(dump.status == 1 && dump.stdout.contains("crcValid: false"))
            let garbage = dir + "/garbage.log"
            var random = SeededGenerator(seed: 0x5EED)
            try Data((0..<500).map { _ in UInt8.random(in: 0...255, using: &random) }).write(to: URL(fileURLWithPath: garbage))
            let dumpGarbage = try run(["dump", garbage, "--json"])
            #expect(dumpGarbage.status == 1 && dumpGarbage.stdout.contains("\"error\""))
        }
    }

    @Test("a read result stays readable after its segment file is deleted")
    func readerOutlivesFile() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let store = try Reservoir.open(at: dir)
            defer { try? store.close() }
            try store.createTopic("t")
            try store.append(to: "t", records: records(0..<50), acks: .buffered)
            let result = try store.read(topic: "t", partition: 0, from: 0)
            try FileManager.default.removeItem(atPath: dir + "/topics/t/0/00000000000000000000.log")
            #expect(try result.records().map(\.value) == records(0..<50).map(\.value))
        }
    }

    @Test("topic alter, describe, maintain and delete-records")
    func maintenanceCommands() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "c", "--dir", dir, "--segment-bytes", "4096", "--set", "cleanup=compact"]).status == 0)
            let lines = (0..<600).map { "k\($0 % 20):v\($0)" }.joined(separator: "\n") + "\n"
            #expect(try run(["produce", "c", "--dir", dir, "--key-separator", ":", "--acks", "buffered"], input: lines).status == 0)

            let altered = try run(["topic", "alter", "c", "--dir", dir, "--set", "retention.ms=1000", "--set", "fileDeleteDelayMs=0"])
            #expect(altered.status == 0)
            #expect(altered.stdout == "c: retentionMs=1000\nc: fileDeleteDelayMs=0\n")
            let described = try run(["topic", "describe", "c", "--dir", dir])
            #expect(described.stdout.contains("  cleanup=compact\n"))
            #expect(described.stdout.contains("  retentionMs=1000\n"))
            #expect(described.stdout.contains("1.000"))  // nothing compacted yet

            let maintained = try run(["maintain", "c", "--dir", dir, "--compact"])
            #expect(maintained.status == 0)
            #expect(maintained.stdout.hasPrefix("c-0: compaction removed "))
            // The latest value of each of the 20 keys is left, with whatever the active segment holds.
            let values = try run(["consume", "c", "--dir", dir]).stdout.split(separator: "\n")
            #expect(values.suffix(20) == (580..<600).map { "v\($0)"[...] })
            #expect(values.count < 200)

            let deleted = try run(["delete-records", "c", "--dir", dir, "--partition", "0", "--before", "595"])
            #expect(deleted.status == 0)
            #expect(deleted.stdout.hasPrefix("c-0: log start offset 595;"))
            #expect(try run(["consume", "c", "--dir", dir]).stdout == (595..<600).map { "v\($0)\n" }.joined())

            let bad = try run(["topic", "alter", "c", "--dir", dir, "--set", "retentionMs=soon"])
            #expect(bad.status == 1)
            #expect(bad.stderr == "reservoir: setting retentionMs=soon: expected an integer ≥ -1\n")
            #expect(try run(["topic", "alter", "c", "--dir", dir, "--set", "nonsense"]).status == 2)
            #expect(try run(["delete-records", "c", "--dir", dir, "--partition", "0", "--before", "601"]).status == 1)
        }
    }

    @Test("consume --group, groups list/describe/reset/delete, queue take/describe")
    func consumerCommands() async throws {
        try await onOwnThread { () throws in
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "o", "--dir", dir]).status == 0)
            #expect(try run(["produce", "o", "--dir", dir], input: (0..<10).map { "v\($0)" }.joined(separator: "\n") + "\n").status == 0)
            #expect(try run(["consume", "o", "--dir", dir, "--group", "g", "--max", "4"]).stdout == "v0\nv1\nv2\nv3\n")
            #expect(try run(["consume", "o", "--dir", dir, "--group", "g", "--max", "2"]).stdout == "v4\nv5\n")
            #expect(try run(["consume", "o", "--dir", dir, "--group", "peek", "--commit", "none", "--max", "1"]).stdout == "v0\n")
            #expect(try run(["groups", "list", "--dir", dir]).stdout == "g\n")
            #expect(
                try run(["groups", "describe", "g", "--dir", dir]).stdout
                    == "topic  partition  committed  end-offset  lag  member\no              0          6          10    4  -\n")
            #expect(try run(["groups", "reset", "g", "--topic", "o", "--to", "8", "--dir", dir]).stdout == "o-0: committed 8\n")
            #expect(try run(["consume", "o", "--dir", dir, "--group", "g"]).stdout == "v8\nv9\n")
            #expect(try run(["groups", "delete", "g", "--dir", dir]).status == 0)
            #expect(try run(["groups", "describe", "g", "--dir", dir]).status == 1)
            #expect(try run(["groups", "reset", "g", "--topic", "o", "--to", "soon", "--dir", dir]).status == 2)

            #expect(try run(["queue", "o", "--group", "w", "--max", "3", "--ack", "--dir", dir]).stdout == "v0\nv1\nv2\n")
            #expect(try run(["queue", "o", "--group", "w", "--max", "1", "--reject", "--dir", dir]).stdout == "v3\n")
            #expect(try run(["queue", "o", "--group", "w", "--max", "1", "--dir", dir]).stdout == "v4\n")
            #expect(
                try run(["queue", "describe", "w", "--dir", dir]).stdout
                    == "group w: in-flight 0, awaiting redelivery 1, acknowledged 3, archived 1, dead-lettered 0\n")
            #expect(try run(["queue", "o", "--group", "w", "--ack", "--reject", "--dir", dir]).status == 2)
            // A peek takes nothing: twice the same, with the delivery counts so far.
            let peeked = try run(["queue", "o", "--group", "w", "--max", "2", "--peek", "--json", "--dir", dir]).stdout
            #expect(peeked.hasPrefix("{\"deliveryCount\":1,") && peeked.contains("\"offset\":4,") && peeked.contains("\"offset\":5,"))
            #expect(try run(["queue", "o", "--group", "w", "--max", "2", "--peek", "--json", "--dir", dir]).stdout == peeked)
            #expect(try run(["queue", "o", "--group", "w", "--max", "1", "--dir", dir]).stdout == "v4\n")
        }
    }

    @Test("bench peak: every record consumed once, and the report agrees with an independent count")
    func benchPeak() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            let reportDir = dir + "-report"
            defer {
                removeDirectory(dir)
                removeDirectory(reportDir)
            }
            let outcome = try run([
                "bench", "peak", "--dir", dir, "--keep-store", "--report", reportDir, "--json", "--base-rate", "2000",
                "--burst-multiple", "5", "--warmup", "0.3", "--burst", "0.5", "--cooldown", "0.3", "--cost-us", "50",
                "--partitions", "2", "--record-bytes", "64",
            ])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
            let runs = try #require(report["runs"] as? [[String: Any]])
            #expect(runs.map { $0["kind"] as? String } == ["buffered", "baseline"])
            let produced = try #require(runs[0]["produced"] as? Int)
            #expect(produced > 1000)
            #expect(runs.allSatisfy { ($0["checksumsMatch"] as? Bool) == true })
            #expect((runs[0]["samples"] as? [Any])?.isEmpty == false)
            // An independent count: every record the store holds, read back by `consume`.
            let consumed = try run(["consume", "peak", "--dir", dir, "--json"])
            #expect(consumed.stdout.split(separator: "\n").count == produced)
            #expect((runs[0]["partitionEnds"] as? [Int])?.reduce(0, +) == produced)
            // The chart and page exist and are self-contained.
            let html = try String(contentsOfFile: reportDir + "/index.html", encoding: .utf8)
            // Nothing to fetch: no external stylesheet, script or image.
            #expect(html.contains("<svg") && !html.contains("src=") && !html.contains("href=") && !html.contains("<link"))
            #expect(FileManager.default.fileExists(atPath: reportDir + "/chart.svg"))
        }
    }

    @Test("bench produce and consume print throughput")
    func benchThroughput() async throws {
        try await onOwnThread {
            let produce = try run(["bench", "produce", "--records", "20000", "--json"])
            #expect(produce.status == 0)
            let figures = try #require(try JSONSerialization.jsonObject(with: Data(produce.stdout.utf8)) as? [String: Any])
            #expect(figures["records"] as? Int == 20000)
            #expect((figures["recordsPerSecond"] as? Double ?? 0) > 0)
            let consume = try run(["bench", "consume", "--records", "20000", "--members", "2"])
            #expect(consume.status == 0 && consume.stdout.hasPrefix("20000 records in"))
        }
    }
}
