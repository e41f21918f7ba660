import Foundation
import Testing
@testable import Reservoir

/// Stored settings are read exactly or not at all; a deletion is durable or reported as not done.
@Suite("Stored state: strict settings, checkpoint failures")
struct StoredStateTests {
    @Test(
        "a misspelt, unknown or mistyped stored setting keeps its topic closed with an error naming file, key and value; the data is untouched, other topics open"
    )
    func strictSettings() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
                try store.createTopic("kv", config: TopicConfig(cleanup: .compact))
                try store.createTopic("other")
                try store.append(to: "kv", records: records(0..<50))
                try store.append(to: "other", records: records(0..<5))
                try store.close()
            }
            let path = dir + "/topics/kv/topic.json"
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let edits: [(String, String, [String])] = [
                ("\"cleanup\" : \"compact\"", "\"cleanup\" : \"Compact\"", ["cleanup", "Compact"]),
                ("\"flush\" : \"none\"", "\"flush\" : \"Durable\"", ["flush", "Durable"]),
                ("\"compression\" : \"none\"", "\"compression\" : \"lz5\"", ["compression", "lz5"]),
                ("\"segmentBytes\" : 1073741824", "\"segmentBytes\" : \"big\"", ["segmentBytes"]),
                ("\"partitions\" : 1", "\"partitions\" : 1, \"cleanupPolicy\" : \"delete\"", ["cleanupPolicy"]),
                ("\"retentionMs\" : 604800000", "\"retentionMs\" : -5", ["retention"]),
            ]
            for (from, to, named) in edits {
                #expect(original.contains(from), "topic.json no longer holds \(from)")
                try original.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
                let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
                let error = try #require(store.unreadableTopics["kv"], "\(to): the topic opened")
                #expect(error.code == .corruptData, "\(to)")
                #expect(error.message.contains(path), "\(error.message)")
                for word in named { #expect(error.message.contains(word), "\(error.message) does not name \(word)") }
                // The topic cannot be used or created over; maintenance does not touch it; others work.
                #expect(throws: error) { try store.topic("kv") }
                #expect(throws: error) { try store.append(to: "kv", records: records(0..<1)) }
                #expect(throws: error) { try store.createTopic("kv") }
                _ = try store.maintain(ignoringDirtyRatio: true)
                #expect(try allRecords(store.log(topic: "other", partition: 0)).map(\.value) == records(0..<5).map(\.value))
                try store.close()
                let report = try StoreVerifier.verify(directory: dir)
                #expect(!report.isSound && report.problems.contains { $0.path == path }, "\(to): verify")
            }
            try original.write(toFile: path, atomically: true, encoding: .utf8)
            let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
            #expect(try store.topic("kv").config.cleanup == .compact)
            _ = try store.maintain(ignoringDirtyRatio: true, now: Int64.max / 2)
            #expect(try allRecords(store.log(topic: "kv", partition: 0)).map(\.key) == records(0..<50).map(\.key))
            try store.close()
        }
    }

    @Test("a checkpoint that cannot be written: delete-records and retention fail and delete nothing, close fails without a clean marker")
    func checkpointFailure() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        try store.createTopic("t", config: TopicConfig(segmentBytes: 8 * 1024, retentionBytes: 8 * 1024))
        for i in 0..<20 { try store.append(to: "t", records: records(i * 50..<(i + 1) * 50, size: 50), acks: .buffered) }
        let all = try allRecords(store.log(topic: "t", partition: 0))
        let segments = try store.log(topic: "t", partition: 0).segments.count
        // The checkpoint's temporary path is taken by a directory: every checkpoint write fails.
        let blocker = dir + "/log-start-offset-checkpoint.tmp"
        try waitForRolledSegmentsDurable(store.log(topic: "t", partition: 0))
        // The I/O thread may still be writing the recovery point's checkpoint through that path.
        var attempts = 0
        while (try? FileManager.default.createDirectory(atPath: blocker + "/x", withIntermediateDirectories: true)) == nil {
            attempts += 1
            try #require(attempts < 500, "could not put a directory at \(blocker)")
            usleep(2000)
        }
        #expect(throws: ReservoirError.self) { try store.deleteRecords(topic: "t", partition: 0, before: 500) }
        #expect(throws: ReservoirError.self) { try store.deleteRecords(topic: "t", partition: 0, before: 10) }
        #expect(throws: ReservoirError.self) { try store.maintain(topic: "t") }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.startOffset == 0)
        #expect(log.segments.count == segments)
        #expect(try allRecords(log) == all)
        #expect(throws: ReservoirError.self) { try store.close() }
        #expect(!FileManager.default.fileExists(atPath: dir + "/.clean-shutdown"))

        try FileManager.default.removeItem(atPath: blocker)
        let reopened = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        #expect(try allRecords(reopened.log(topic: "t", partition: 0)) == all)
        try reopened.deleteRecords(topic: "t", partition: 0, before: 500)
        try reopened.close()
        let again = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        #expect(try allRecords(again.log(topic: "t", partition: 0)) == all.filter { $0.offset >= 500 })
        try again.close()
    }
}

extension CommandLineTests {
    @Test("consume over a damaged batch prints every record before it, then one error line naming partition, offset and file")
    func consumeStopsAtDamage() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let lines = (0..<300).map { "line-\($0)" }
            #expect(try run(["topic", "create", "t", "--dir", dir, "--segment-bytes", "4096"]).status == 0)
            #expect(
                try run(["produce", "t", "--dir", dir, "--batch-records", "10"], input: lines.joined(separator: "\n") + "\n").status == 0)
            let partition = dir + "/topics/t/0"
            let logs = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted()
            let damaged = partition + "/" + logs[1]
            let batches = try SegmentFileInspector.batches(inLogFile: damaged)
            let victim = try #require(batches.count > 2 ? batches[2] : nil)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
            bytes[victim.position + 70] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: damaged))
            for json in [false, true] {
                let outcome = try run(["consume", "t", "--dir", dir] + (json ? ["--json"] : []))
                #expect(outcome.status == 1)
                let printed = outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(printed.last == "", "the output ends with a whole line")
                let first = victim.header!.baseOffset
                #expect(printed.count - 1 == Int(first), "printed \(printed.count - 1) records, \(first) lie before the damage")
                if !json { #expect(printed.dropLast().map(String.init) == Array(lines.prefix(Int(first)))) }
                let errors = outcome.stderr.split(separator: "\n").filter { $0.hasPrefix("reservoir:") }
                #expect(errors.count == 1)
                #expect(
                    errors.first.map { $0.contains("topic t partition 0") && $0.contains("offset \(first)") && $0.contains(damaged) }
                        == true,
                    "\(outcome.stderr)")
            }
        }
    }
}

extension CommandLineTests {
    @Test("SIGINT and SIGTERM close the store cleanly; a reader that goes away (SIGPIPE) ends the command quietly")
    func signalsCloseCleanly() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "t", "--dir", dir]).status == 0)
            #expect(
                try run(["produce", "t", "--dir", dir], input: (0..<20_000).map { "record-\($0)" }.joined(separator: "\n") + "\n").status
                    == 0)
            for (signalNumber, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
                let process = ChildProcess()
                process.executableURL = reservoirExecutable()
                process.arguments = ["consume", "t", "--dir", dir, "--group", "g", "--follow"]
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                try process.run()
                _ = output.fileHandleForReading.availableData  // it is reading
                #expect(!FileManager.default.fileExists(atPath: dir + "/.clean-shutdown"))
                kill(process.processIdentifier, signalNumber)
                process.waitUntilExit()
                #expect(process.terminationReason == .exit && process.terminationStatus == status, "signal \(signalNumber)")
                #expect(FileManager.default.fileExists(atPath: dir + "/.clean-shutdown"), "signal \(signalNumber): no clean shutdown")
            }
            // `consume | head -1`: the pipe closes under the writer.
            let pipeline = try run(["-c", "'\(reservoirExecutable().path)' consume t --dir '\(dir)' | head -1"], shell: true)
            #expect(pipeline.stdout == "record-0\n")
            #expect(pipeline.stderr.isEmpty, "\(pipeline.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir + "/.clean-shutdown"))
        }
    }

    @Test("partitions the process could not open are refused; the store stays as it was")
    func partitionsBeyondTheDescriptorLimit() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            #expect(try run(["topic", "create", "t", "--dir", dir]).status == 0)
            let config = try String(contentsOfFile: dir + "/topics/t/topic.json", encoding: .utf8)
            let limited = try run(
                ["-c", "ulimit -n 256; '\(reservoirExecutable().path)' topic alter t --set partitions=400 --dir '\(dir)'"], shell: true)
            #expect(limited.status == 1)
            #expect(limited.stderr.contains("ulimit -n") && limited.stderr.split(separator: "\n").count == 1, "\(limited.stderr)")
            #expect(try String(contentsOfFile: dir + "/topics/t/topic.json", encoding: .utf8) == config)
            #expect(!FileManager.default.fileExists(atPath: dir + "/topics/t/1"))
            let listed = try run(["topic", "list", "--dir", dir])
            #expect(listed.status == 0)
        }
    }
}

extension StoredStateTests {
    @Test("internal topics are read-only to users; a group cannot be reset outside the log")
    func internalTopicsReadOnly() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t")
        try await store.append(to: "t", records: records(0..<10))
        let member = try store.consumer(
            group: "g", topics: ["t"], options: ConsumerOptions(sessionTimeoutMilliseconds: patientSessionMilliseconds))
        _ = try member.poll(maxRecords: 5)
        try member.commitSync()
        try member.close()
        let committed = try #require(try store.describeGroup("g").first?.committed)
        for name in Reservoir.internalTopics {
            #expect("creating \(name)") { try store.createTopic(name) } throws: {
                ($0 as? ReservoirError)?.message.contains("internal") == true
            }
        }
        for name in Reservoir.internalTopics where store.topicNames.contains(name) {
            let end = try store.log(topic: name, partition: 0).endOffset
            #expect(throws: ReservoirError.self) { try store.append(to: name, records: records(0..<1)) }
            await #expect(throws: ReservoirError.self) { try await store.append(to: name, key: [1], value: [2]) }
            #expect(throws: ReservoirError.self) { try store.append(to: name, batch: store.makeBatchBuilder(for: name)) }
            #expect(throws: ReservoirError.self) { try store.makeProducer(for: name) }
            #expect(throws: ReservoirError.self) { try store.alterTopic(name, settings: [("retentionMs", "1")]) }
            #expect(throws: ReservoirError.self) { try store.deleteRecords(topic: name, partition: 0, before: 1) }
            #expect(try store.log(topic: name, partition: 0).endOffset == end)
        }
        #expect(throws: ReservoirError.self) { try store.resetGroupOffsets(group: "g", topic: "t", to: .offset(99_999)) }
        #expect(throws: ReservoirError.self) { try store.resetGroupOffsets(group: "g", topic: "t", to: .offset(-1)) }
        #expect(try store.describeGroup("g").first?.committed == committed)
        try store.resetGroupOffsets(group: "g", topic: "t", to: .offset(10))
        #expect(try store.describeGroup("g").first?.committed == 10)
    }
}

extension CommandLineTests {
    @Test("thousands of segments open under `ulimit -n 64`: descriptors grow with partitions, not segments")
    func manySegmentsFewDescriptors() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
                try store.createTopic("t", config: TopicConfig(segmentBytes: 1024, maxRecordBytes: 800, maxBatchBytes: 1024))
                for i in 0..<3000 {
                    try store.append(
                        to: "t", records: [Record(key: Array("k\(i)".utf8), value: Array(repeating: UInt8(i % 251), count: 600))],
                        acks: .buffered)
                }
                #expect(try store.log(topic: "t", partition: 0).segments.count >= 3000)
                try store.close()
            }
            let executable = reservoirExecutable().path
            let consumed = try run(["-c", "ulimit -n 64; '\(executable)' consume t --dir '\(dir)' --json | wc -l"], shell: true)
            #expect(consumed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "3000", "\(consumed.stderr)")
            // Unclean too: every segment is scanned at open.
            try FileManager.default.removeItem(atPath: dir + "/.clean-shutdown")
            let produced = try run(["-c", "ulimit -n 64; printf 'x\\ny\\n' | '\(executable)' produce t --dir '\(dir)'"], shell: true)
            #expect(produced.status == 0, "\(produced.stderr)")
            let verified = try run(["-c", "ulimit -n 64; '\(executable)' verify --dir '\(dir)'"], shell: true)
            #expect(verified.status == 0 && verified.stdout.contains("sound"), "\(verified.stdout) \(verified.stderr)")
            let store = try Reservoir.open(at: dir)
            #expect(try store.log(topic: "t", partition: 0).endOffset == 3002)
            try store.close()
        }
    }
}

extension StoredStateTests {
    @Test("a setting means the same by its flag and by --set: a smaller segment size brings its derived limits along")
    func settingNamesAgree() async throws {
        try await onOwnThread {
            let flag = TopicConfig(segmentBytes: 1 << 20)
            let set = try TopicConfig().applying([("segmentBytes", "1048576")])
            #expect(set == flag)
            let kafka = try TopicConfig().applying([("segment.bytes", "1048576")])
            #expect(kafka == flag)
            // An explicit limit is kept, and checked.
            let explicit = try TopicConfig().applying([("segmentBytes", "1048576"), ("maxBatchBytes", "65536")])
            #expect(explicit.maxBatchBytes == 65536 && explicit.maxRecordBytes == 65536)
            #expect(throws: ReservoirError.self) { try TopicConfig(maxBatchBytes: 8 << 20).applying([("segmentBytes", "1048576")]) }
        }
    }
}
