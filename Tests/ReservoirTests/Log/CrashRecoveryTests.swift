import Foundation
import Testing
import Synchronization
@testable import Reservoir

/// The `reservoir` executable built next to the test bundle.
func reservoirExecutable() -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("reservoir").path) && directory.path != "/" {
        directory = directory.deletingLastPathComponent()
    }
    return directory.appendingPathComponent("reservoir")
}

@Suite("Crash safety, for real", .serialized)
struct CrashRecoveryTests {
    @Test("SIGKILL during durable appends, 20 times on one store: every acknowledged record survives intact")
    func killLoop() async throws {
        try await onOwnThread {
            signal(SIGPIPE, SIG_IGN)
            let seed = UInt64.random(in: 0...UInt64.max)
            print("kill loop seed \(seed)")
            var random = SeededGenerator(seed: seed)
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir)
                try store.createTopic(
                    "t",
                    config: TopicConfig(
                        segmentBytes: 64 * 1024, indexIntervalBytes: 512, maxRecordBytes: 4096, maxBatchBytes: 32 * 1024,
                        preallocateBytes: 32 * 1024))
                try store.close()
            }
            var sent: [String] = []  // every line ever sent, in order; offsets are positions in it
            var sentRounds: [Int] = []  // the round that sent each line (its header)
            for round in 0..<20 {
                let start = sent.count
                let process = ChildProcess()
                process.executableURL = reservoirExecutable()
                process.arguments = [
                    "produce", "t", "--dir", dir, "--json", "--acks", "durable", "--batch-records", "50", "--key-separator", "\t",
                    "--header", "round=\(round)", "--header", "writer=kill-loop",
                ]
                // Keyed records; every fifth has an empty key, to cover that edge too.
                let lines = (0..<60_000).map {
                    "\($0 % 5 == 0 ? "" : "key-\(round)-\($0)")\tround-\(round)-record-\($0)-" + String(repeating: "x", count: $0 % 97)
                }
                let output = Pipe()
                let input = Pipe()
                process.standardInput = input
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                try process.run()
                // Input arrives as a stream that never ends (at most 50 000 lines a second, and the
                // pipe stays open): the writer is always in flight when the kill comes.
                let feeding = Atomic<Bool>(true)
                let inputDescriptor = input.fileHandleForWriting.fileDescriptor
                let feeder = Thread {
                    var next = 0
                    while feeding.load(ordering: .relaxed) && next < lines.count {
                        let chunk = lines[next..<min(next + 50, lines.count)].joined(separator: "\n") + "\n"
                        let written =
                            chunk.utf8.withContiguousStorageIfAvailable { Glibc.write(inputDescriptor, $0.baseAddress, $0.count) } ?? -1
                        if written < 0 { return }
                        next += 50
                        usleep(1000)
                    }
                }
                feeder.start()
                defer {
                    feeding.store(false, ordering: .relaxed)
                    while feeder.isExecuting { usleep(1000) }
                    try? input.fileHandleForWriting.close()
                }
                // Read acknowledgements until a random moment, then kill.
                let deadline = Date().addingTimeInterval(Double.random(in: 0.15...0.6, using: &random))
                var acked: Int64 = -1
                var pendingText = ""
                let reader = output.fileHandleForReading
                while Date() < deadline {
                    let data = reader.availableData
                    if data.isEmpty { break }
                    pendingText += String(decoding: data, as: UTF8.self)
                    while let newline = pendingText.firstIndex(of: "\n") {
                        let line = pendingText[..<newline]
                        pendingText = String(pendingText[pendingText.index(after: newline)...])
                        if let range = line.range(of: "\"last\":"), let value = Int64(line[range.upperBound...].prefix { $0.isNumber }) {
                            acked = max(acked, value)
                        }
                    }
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                feeding.store(false, ordering: .relaxed)
                // The kill landed while the writer was working: it died of the signal, input still coming.
                #expect(process.terminationReason == .uncaughtSignal, "round \(round): the writer exited on its own")

                let store = try Reservoir.open(at: dir)
                let log = try store.log(topic: "t", partition: 0)
                let end = log.endOffset
                #expect(end >= acked + 1, "round \(round): acknowledged up to \(acked), log ends at \(end)")
                #expect(
                    end > Int64(start) && end - Int64(start) < Int64(lines.count), "round \(round): \(end - Int64(start)) records written")
                // Everything present is exactly what was sent, in order: acknowledged or not, nothing is torn.
                var offset: Int64 = 0
                var index = 0
                while offset < end {
                    let result = try log.read(from: offset, maxBytes: 1 << 20)
                    for record in try result.records() {
                        let expected = record.offset < Int64(start) ? sent[Int(record.offset)] : lines[Int(record.offset) - start]
                        let tab = expected.firstIndex(of: "\t")!
                        #expect(record.offset == Int64(index))
                        #expect(record.key == Array(expected[..<tab].utf8), "offset \(record.offset)")
                        #expect(record.value == Array(expected[expected.index(after: tab)...].utf8), "offset \(record.offset)")
                        let writtenIn = record.offset < Int64(start) ? sentRounds[Int(record.offset)] : round
                        #expect(
                            record.headers == [RecordHeader("round", "\(writtenIn)"), RecordHeader("writer", "kill-loop")],
                            "offset \(record.offset)")
                        index += 1
                    }
                    offset = result.nextOffset
                }
                #expect(Int64(index) == end)
                sent += lines.prefix(Int(end) - start)
                sentRounds += Array(repeating: round, count: Int(end) - start)
                try store.close()
            }
            #expect(sent.count > 100)
        }
    }

    /// A store with one partition of three batches; returns the log path and the batch ends.
    func threeBatches(_ dir: String, segmentBytes: Int = 1 << 20) throws -> (log: String, ends: [Int], records: [LogRecord]) {
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(segmentBytes: segmentBytes))
        for i in 0..<3 { try store.append(to: "t", records: records(i * 4..<(i + 1) * 4), acks: .durable) }
        let all = try store.read(topic: "t", partition: 0, from: 0).records()
        try store.close()
        let log = dir + "/topics/t/0/00000000000000000000.log"
        let batches = try SegmentFileInspector.batches(inLogFile: log)
        return (log, batches.map { $0.position + ($0.header?.totalSize ?? 0) }, all)
    }

    /// Reopens the store (after an unclean stop unless `clean`; with `neverSynced`, as if nothing
    /// had been fsync'd: a recovery point of 0) and reads partition 0 from offset 0.
    func reopenAndRead(_ dir: String, clean: Bool = false, neverSynced: Bool = true) throws -> [LogRecord] {
        if !clean { try? FileManager.default.removeItem(atPath: dir + "/.clean-shutdown") }
        if neverSynced {
            try CheckpointFile(path: dir + "/recovery-point-offset-checkpoint").write([.init(topic: "t", partition: 0, offset: 0)])
        }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        return try log.read(from: 0, maxBytes: 1 << 20).records()
    }

    /// Reopens a store whose partition 0 holds durable damage at `offset`: the bytes stay on disk
    /// as they are, reads before it work, a read of it fails naming partition, offset and file.
    func expectDamageKept(_ dir: String, log path: String, at offset: Int64, before: [LogRecord], clean: Bool, _ note: String) throws {
        if !clean { try? FileManager.default.removeItem(atPath: dir + "/.clean-shutdown") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.damage.first?.firstOffset == offset, "\(note)")
        #expect(try allRecords(log, upTo: offset) == before, "\(note)")
        do {
            _ = try log.read(from: offset)
            Issue.record("\(note): reading damaged offset \(offset) succeeded")
        } catch {
            #expect(error.code == .corruptData)
            #expect(error.message.contains("topic t partition 0: offset \(offset)") && error.message.contains(path), "\(error.message)")
        }
        #expect(throws: ReservoirError.self, "\(note): appending after damage at the end") {
            try store.append(to: "t", records: records(0..<1))
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        // Only zeros (which hold no record: a batch starts with its offset's high zero bytes) may go.
        let onlyZerosCut =
            after.count < bytes.count && bytes.prefix(after.count) == after && bytes.dropFirst(after.count).allSatisfy { $0 == 0 }
        #expect(after == bytes || onlyZerosCut, "\(note): the damaged file was changed from \(bytes.count) to \(after.count) bytes")
    }

    @Test("the last batch truncated at every byte: an unsynced tail is cut, a durable one is kept and reported")
    func truncatedTail() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (log, ends, all) = try threeBatches(dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: log))
        for cut in ends[1]..<ends[2] {
            // Never fsync'd (recovery point 0, unclean): Kafka's rule, the torn tail is cut.
            try original.prefix(cut).write(to: URL(fileURLWithPath: log))
            #expect(try reopenAndRead(dir) == Array(all.prefix(8)), "cut at \(cut)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: log)).count == ends[1])
            // Durable (closed cleanly, or below the recovery point): kept as it is, reported.
            for clean in [true, false] {
                try original.write(to: URL(fileURLWithPath: log))
                do { try Reservoir.open(at: dir).close() }  // a clean close at offset 12 (recovery point 12)
                try original.prefix(cut).write(to: URL(fileURLWithPath: log))
                try expectDamageKept(dir, log: log, at: 8, before: Array(all.prefix(8)), clean: clean, "cut at \(cut), clean \(clean)")
            }
        }
    }

    @Test("garbage over the tail and bit flips inside a batch: cut when never synced, kept and reported when durable")
    func corruption() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("corruption seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (log, ends, all) = try threeBatches(dir)
        let original = try Data(contentsOf: URL(fileURLWithPath: log))
        // Random bytes after the last batch: past the recovery point, never durable, cut.
        for _ in 0..<10 {
            var damaged = original
            damaged.append(contentsOf: (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            try damaged.write(to: URL(fileURLWithPath: log))
            #expect(try reopenAndRead(dir, neverSynced: false) == all, "seed \(seed)")
        }
        // Random bytes from the middle of a random batch to the end.
        for _ in 0..<10 {
            let batch = Int.random(in: 0..<3, using: &random)
            let start =
                (batch == 0 ? 0 : ends[batch - 1]) + Int.random(in: 1..<(ends[batch] - (batch == 0 ? 0 : ends[batch - 1])), using: &random)
            var damaged = original.prefix(start)
            damaged.append(contentsOf: (0..<(original.count - start)).map { _ in UInt8.random(in: 0...255, using: &random) })
            try original.write(to: URL(fileURLWithPath: log))
            do { try Reservoir.open(at: dir).close() }  // durable up to 12 again
            try damaged.write(to: URL(fileURLWithPath: log))
            try expectDamageKept(dir, log: log, at: Int64(batch * 4), before: Array(all.prefix(batch * 4)), clean: false, "seed \(seed)")
            #expect(try reopenAndRead(dir) == Array(all.prefix(batch * 4)), "seed \(seed)")
        }
        // One flipped bit inside the second batch.
        for bit in [0, 3, 7] {
            var damaged = original
            let position = ends[0] + 30 + bit
            damaged[position] ^= UInt8(1 << bit)
            try original.write(to: URL(fileURLWithPath: log))
            do { try Reservoir.open(at: dir).close() }
            try damaged.write(to: URL(fileURLWithPath: log))
            try expectDamageKept(dir, log: log, at: 4, before: Array(all.prefix(4)), clean: false, "bit \(bit)")
            #expect(try reopenAndRead(dir) == Array(all.prefix(4)))
            try original.write(to: URL(fileURLWithPath: log))
        }
    }

    @Test("index files deleted, truncated or garbage are rebuilt; every offset and timestamp is found")
    func indexDamage() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic(
                "t", config: TopicConfig(segmentBytes: 4096, indexIntervalBytes: 200, maxRecordBytes: 1024, maxBatchBytes: 4096))
            for i in 0..<60 {
                try store.append(to: "t", records: records(i * 5..<(i + 1) * 5, timestamp: { 10_000 + Int64($0) }), acks: .buffered)
            }
            try store.close()
        }
        let seed = UInt64.random(in: 0...UInt64.max)
        print("index damage seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let partition = dir + "/topics/t/0"
        let damage: [(String, inout SeededGenerator) throws -> Void] = [
            { path, _ in try FileManager.default.removeItem(atPath: path) },
            { path, _ in
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.truncate(atOffset: 5)
                try handle.close()
            },
            { path, random in
                try Data((0..<100).map { _ in UInt8.random(in: 0...255, using: &random) }).write(to: URL(fileURLWithPath: path))
            },
            { path, _ in try Data("  ".utf8).write(to: URL(fileURLWithPath: path)) },
        ]
        for (round, hurt) in damage.enumerated() {
            let files = try FileManager.default.contentsOfDirectory(atPath: partition).sorted()
            for file in files where file.hasSuffix(".index") || file.hasSuffix(".timeindex") {
                if Bool.random(using: &random) || round == 0 { try hurt(partition + "/" + file, &random) }
            }
            for clean in [true, false] {
                if !clean { try? FileManager.default.removeItem(atPath: dir + "/.clean-shutdown") }
                let store = try Reservoir.open(at: dir)
                let log = try store.log(topic: "t", partition: 0)
                #expect(log.endOffset == 300)
                for offset in Int64(0)..<300 {
                    #expect(try log.read(from: offset, maxBytes: 1).records().first?.offset == offset)
                }
                for ts in stride(from: Int64(9_990), through: 10_300, by: 7) {
                    let expected: Int64? = ts < 10_000 ? 0 : (ts < 10_300 ? ts - 10_000 : nil)
                    #expect(try log.offset(forTimestamp: ts)?.offset == expected)
                }
                try store.close()
                #expect(try StoreVerifier.verify(directory: dir).isSound)
            }
        }
    }

    @Test("a second process opening the store gets the lock error")
    func secondProcess() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let store = try Reservoir.open(at: dir)
            defer { try? store.close() }
            let process = ChildProcess()
            process.executableURL = reservoirExecutable()
            process.arguments = ["topic", "create", "other", "--dir", dir]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 1)
            #expect(message.contains("is in use by process \(getpid())"))
            #expect(message.contains("read-only opens work beside it"))
            #expect(message.split(separator: "\n").count == 1)
        }
    }
}
