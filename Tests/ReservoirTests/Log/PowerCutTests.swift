import Foundation
import Testing
@testable import Reservoir

/// An ext4 file system on a loop device, whose backing file, copied while the writer is frozen,
/// is what a power cut at that moment leaves: only what reached the device, never the page cache.
/// (A SIGKILL keeps the page cache, so it cannot tell a missing fsync from a present one.)
enum LoopFileSystem {
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = temporaryDirectory("loop-probe")
        defer { removeDirectory(probe) }
        let image = probe + "/image"
        guard runCommand("/usr/bin/truncate", ["-s", "32M", image]), runCommand("/sbin/mkfs.ext4", ["-q", "-F", image]) else {
            return false
        }
        let mountPoint = probe + "/mnt"
        try? FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard runCommand("/bin/mount", ["-o", "loop", image, mountPoint]) else { return false }
        return runCommand("/bin/umount", [mountPoint])
    }()

    /// Mounts `image` at `mountPoint`; `commit=60` keeps ext4's own journal commits (which write
    /// file data back in `data=ordered` mode) out of the few seconds a round lasts, so that only
    /// the writer's fsyncs put data on the device.
    static func mount(_ image: String, at mountPoint: String) throws {
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(runCommand("/bin/mount", ["-o", "loop,commit=60", image, mountPoint]), "mount \(image)")
    }

    static func unmount(_ mountPoint: String) {
        runCommand("/bin/umount", [mountPoint])
    }
}

@Suite(
    "Power cut: a frozen writer's device copied, every durable acknowledgement checked", .serialized,
    .enabled(if: LoopFileSystem.available, "needs root and loop devices (losetup, mkfs.ext4, mount)"))
struct PowerCutTests {
    struct Outcome {
        /// Rounds in which every acknowledged record was found, by content, in the copy.
        var roundsIntact = 0
        /// Acknowledged records missing from a copy, over all rounds.
        var missing = 0
        var acknowledged = 0
    }

    /// Runs `rounds` rounds: `reservoir produce --acks ACKS` writes keyed records to a store on the
    /// loop-mounted file system, is frozen with SIGSTOP at a random moment, the device's backing
    /// file is copied, the writer killed. The copy is mounted and every record acknowledged before
    /// the freeze is looked for, key and value.
    func run(acks: String, rounds: Int, seed: UInt64) throws -> Outcome {
        var random = SeededGenerator(seed: seed)
        let dir = temporaryDirectory("powercut-\(acks)")
        defer { removeDirectory(dir) }
        let image = dir + "/device"
        let live = dir + "/live"
        let copy = dir + "/copy"
        let snapshot = dir + "/snapshot"
        #expect(runCommand("/usr/bin/truncate", ["-s", "256M", image]))
        #expect(runCommand("/sbin/mkfs.ext4", ["-q", "-F", image]))
        try LoopFileSystem.mount(image, at: live)
        defer { LoopFileSystem.unmount(live) }
        let store = live + "/store"
        do {
            let created = try Reservoir.open(at: store)
            try created.createTopic("t", config: TopicConfig(segmentBytes: 256 * 1024, indexIntervalBytes: 1024))
            try created.close()
        }
        var outcome = Outcome()
        var sent: [String] = []  // every line in the live log, in offset order
        for round in 0..<rounds {
            let start = sent.count
            let lines = (0..<200_000).map { "key-\(round)-\($0):round-\(round)-value-\($0)-" + String(repeating: "v", count: $0 % 61) }
            let input = dir + "/input"
            try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: input))
            // The writer's input never ends while it runs: `cat` feeds it through a pipe whose write
            // end the test keeps open, so a writer faster than the freeze waits for more instead of
            // exiting, and the freeze always finds it running.
            let feed = Pipe()
            let process = ChildProcess()
            process.executableURL = reservoirExecutable()
            process.arguments = ["produce", "t", "--dir", store, "--json", "--acks", acks, "--key-separator", ":", "--batch-records", "20"]
            let output = Pipe()
            process.standardInput = feed
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let feeder = ChildProcess()
            feeder.executableURL = URL(fileURLWithPath: "/bin/cat")
            feeder.arguments = [input]
            feeder.standardOutput = feed.fileHandleForWriting
            try feeder.run()
            let reader = output.fileHandleForReading
            var acknowledged: Int64 = -1
            var pending = ""
            func take(_ data: Data) {
                pending += String(decoding: data, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = pending[..<newline]
                    pending = String(pending[pending.index(after: newline)...])
                    if let range = line.range(of: "\"last\":"), let value = Int64(line[range.upperBound...].prefix { $0.isNumber }) {
                        acknowledged = max(acknowledged, value)
                    }
                }
            }
            // Its acknowledgements are read until the freeze, waiting no longer than the deadline
            // for each: a writer that has taken all its input prints nothing more.
            let deadline = Date().addingTimeInterval(Double.random(in: 0.3...1.5, using: &random))
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while case let remaining = deadline.timeIntervalSinceNow, remaining > 0 {
                var ready = pollfd(fd: reader.fileDescriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, Int32(remaining * 1000) + 1) > 0 else { continue }
                let count = Glibc.read(reader.fileDescriptor, &buffer, buffer.count)
                if count <= 0 { break }
                take(Data(buffer[..<count]))
            }
            // Frozen: nothing more is written or acknowledged. What it printed before counts.
            kill(process.processIdentifier, SIGSTOP)
            let flags = fcntl(reader.fileDescriptor, F_GETFL)
            _ = fcntl(reader.fileDescriptor, F_SETFL, flags | O_NONBLOCK)
            while true {
                let count = Glibc.read(reader.fileDescriptor, &buffer, buffer.count)
                if count <= 0 { break }
                take(Data(buffer[..<count]))
            }
            #expect(runCommand("/bin/cp", ["--sparse=always", image, snapshot]))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kill(feeder.processIdentifier, SIGKILL)
            try feed.fileHandleForWriting.close()
            feeder.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the writer finished before the freeze")

            // The power-cut image: every acknowledged record, exactly.
            try LoopFileSystem.mount(snapshot, at: copy)
            var found: [Int64: LogRecord] = [:]
            do {
                let recovered = try Reservoir.open(at: copy + "/store")
                let log = try recovered.log(topic: "t", partition: 0)
                for record in try allRecords(log) { found[record.offset] = record }
                try recovered.close()
            } catch {
                Issue.record("round \(round): the power-cut copy did not open: \(error)")
            }
            LoopFileSystem.unmount(copy)
            try? FileManager.default.removeItem(atPath: snapshot)
            var missing = 0
            if acknowledged >= 0 {
                for offset in 0...acknowledged {
                    let line = offset < Int64(start) ? sent[Int(offset)] : lines[Int(offset) - start]
                    let separator = line.firstIndex(of: ":")!
                    let record = found[offset]
                    if record?.key != Array(line[..<separator].utf8) || record?.value != Array(line[line.index(after: separator)...].utf8) {
                        missing += 1
                    }
                }
            }
            outcome.acknowledged += Int(max(0, acknowledged - Int64(start) + 1))
            outcome.missing += missing
            if missing == 0 { outcome.roundsIntact += 1 }

            // The live store after the kill (the page cache survives a kill): the next round appends after it.
            let reopened = try Reservoir.open(at: store)
            let end = try reopened.log(topic: "t", partition: 0).endOffset
            try reopened.close()
            sent += lines.prefix(Int(end) - start)
        }
        return outcome
    }

    @Test("durable acknowledgements survive a power cut at a random moment, by content")
    func durableSurvives() async throws {
        try await onOwnThread {
            let seed = UInt64.random(in: 0...UInt64.max)
            print("power cut seed \(seed)")
            let outcome = try run(acks: "durable", rounds: 5, seed: seed)
            print(
                "power cut, durable: \(outcome.acknowledged) acknowledged, \(outcome.missing) missing, \(outcome.roundsIntact) of 5 rounds intact"
            )
            #expect(outcome.missing == 0, "seed \(seed): \(outcome.missing) acknowledged records missing after a power cut")
            #expect(outcome.acknowledged > 1000, "seed \(seed): too few acknowledgements to prove anything")
        }
    }

    @Test("the test sees a missing fsync: buffered acknowledgements taken as durable do not survive")
    func missingFsyncIsCaught() async throws {
        try await onOwnThread {
            let seed = UInt64.random(in: 0...UInt64.max)
            print("power cut seed \(seed)")
            // `--acks buffered` is a durable append with its fsync removed: the same writer, the same
            // acknowledgements, nothing forced to the device.
            let outcome = try run(acks: "buffered", rounds: 3, seed: seed)
            print(
                "power cut, buffered: \(outcome.acknowledged) acknowledged, \(outcome.missing) missing, \(outcome.roundsIntact) of 3 rounds intact"
            )
            #expect(
                outcome.missing > 0, "seed \(seed): a power cut kept every unsynced record; the harness would not catch a missing fsync")
        }
    }
}
