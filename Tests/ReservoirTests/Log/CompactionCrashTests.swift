import Foundation
import Logging
import Synchronization
import Testing
@testable import Reservoir

/// A crash at each step of the compaction swap, made through the system-call seam: from the
/// chosen rename on, every rename and removal in the log's directory fails (the process has
/// "died": nothing more reaches the disk, undo included), and the log is reopened without being
/// closed. It must hold exactly the records before the clean or exactly those after it.
@Suite("Compaction: crash at every swap state")
struct CompactionCrashTests {
    static let config = LogConfig(segmentBytes: 2048, indexIntervalBytes: 256)
    static let logger = Logger(label: "compaction-crash-tests")

    private static func open(_ directory: String, thread: IOThread, clean: Bool = false) throws -> PartitionLog {
        try PartitionLog(
            directory: directory, config: config, logStartOffset: 0, recoveryPoint: 0, cleanShutdown: clean,
            ioThread: thread, logger: logger)
    }

    private static func clean(_ log: PartitionLog, deleteDelayMs: Int64 = 0) throws -> LogCleaner.PassResult? {
        var settings = LogCleaner.Settings()
        settings.segmentBytes = config.segmentBytes
        settings.deleteDelayMs = deleteDelayMs
        return try LogCleaner(mapMemoryBytes: 1 << 20)
            .clean(log, firstDirty: 0, settings: settings, now: wallClockMilliseconds()) { false }
    }

    private static func copy(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    @Test("before the swap's point of no return: the records before the clean; after it: exactly the cleaned set")
    func everySwapState() throws {
        let root = temporaryDirectory()
        defer { removeDirectory(root) }
        let thread = IOThread(name: "test-io")
        defer { thread.stop() }

        // The log before cleaning: 600 records over 20 keys in 2 KiB segments.
        let original = root + "/original"
        var before: [LogRecord] = []
        do {
            let log = try Self.open(original, thread: thread, clean: true)
            let encoder = try RecordBatchEncoder()
            for start in stride(from: 0, to: 600, by: 10) {
                let batch = (start..<start + 10).map { Record(key: Array("k-\($0 % 20)".utf8), value: Array("v-\($0)".utf8)) }
                try log.append(batch, encoder: encoder)
            }
            try waitForRolledSegmentsDurable(log)
            before = try allRecords(log)
            try log.close()
        }

        // The log after a complete clean.
        let finished = root + "/finished"
        try Self.copy(original, to: finished)
        let after: [LogRecord]
        let finishedResult: LogCleaner.PassResult
        do {
            let log = try Self.open(finished, thread: thread, clean: true)
            let result = try #require(try Self.clean(log))
            #expect(result.segmentsBefore > 2)
            finishedResult = result
            after = try allRecords(log)
        }
        #expect(after.count < before.count)
        #expect(after.map(\.offset).last == before.map(\.offset).last)

        // The swap renames each `.cleaned` file to `.swap` (one per group), then each old segment's
        // three files (log, offset index, time index) to `.deleted`, then each `.swap` into place.
        let groups = finishedResult.segmentsAfter
        let olds = finishedResult.segmentsBefore
        #expect(groups >= 2)
        // A crash stops removals too; a failure (the last case) does not: the cleaner then cleans
        // up, and must keep the `.cleaned` files of a swap whose undo failed as well, or the next
        // open would install the one `.swap` file left (part of a clean).
        let expectations: [(step: String, renamesBefore: Int?, cleaned: Bool, crash: Bool)] = [
            ("cleaned written", 0, false, true), ("some swapped", 1, false, true), ("all swapped", groups, true, true),
            ("some old deleted", groups + 3 * olds / 2, true, true), ("old deleted", groups + 3 * olds, true, true),
            ("some installed", groups + 3 * olds + 1, true, true),
            ("removal of the .deleted files pending", nil, true, true),
            ("rename failed after some swapped, and its undo", 1, false, false),
        ]
        for (step, renamesBefore, cleaned, crash) in expectations {
            let directory = root + "/crash-\(step.replacingOccurrences(of: " ", with: "-"))"
            try Self.copy(original, to: directory)
            do {
                let log = try Self.open(directory, thread: thread, clean: true)
                if let renamesBefore {
                    let dead = directory + "/"
                    SystemCall.inject(.init(operation: "rename", pathContaining: dead, errno: EIO, count: .max, skip: renamesBefore))
                    // The cleaner removes each `.cleaned` path once before writing it.
                    if crash { SystemCall.inject(.init(operation: "remove", pathContaining: dead, errno: EIO, count: .max, skip: groups)) }
                    defer { SystemCall.clearFaults(pathContaining: dead) }
                    #expect(throws: ReservoirError.self, "step \(step)") { try Self.clean(log, deleteDelayMs: 3_600_000) }
                } else {
                    #expect(try Self.clean(log, deleteDelayMs: 3_600_000) != nil)
                }
                let leftovers = fileNames(directory).filter {
                    $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted")
                }
                #expect(!leftovers.isEmpty, "step \(step) left no intermediate files")
                // The process dies here: no close.
            }
            let reopened = try Self.open(directory, thread: thread)
            let records = try allRecords(reopened)
            #expect(records == (cleaned ? after : before), "after a crash at \(step)")
            #expect(fileNames(directory).allSatisfy { !$0.hasSuffix(".cleaned") && !$0.hasSuffix(".swap") && !$0.hasSuffix(".deleted") })
            #expect(reopened.endOffset == 600)
            // The recovered log takes appends and another clean.
            try reopened.append([Record(key: Array("k-0".utf8), value: Array("again".utf8))], encoder: try RecordBatchEncoder())
            #expect(reopened.endOffset == 601)
            try reopened.close()
        }
    }
}

/// The same crash for real: `reservoir maintain --compact` in a child process, killed with SIGKILL
/// the moment a file of the chosen swap step appears (inotify), and the result compared with an
/// independent model of compaction, not with the cleaner's own output.
@Suite("Compaction: a child process killed at each swap step", .serialized)
struct CompactionKillTests {
    /// Watches a directory for files created or renamed into it.
    final class DirectoryWatch {
        let descriptor: Int32
        init(_ path: String) throws {
            descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            try #require(descriptor >= 0)
            try #require(inotify_add_watch(descriptor, path, UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) >= 0)
        }
        deinit { close(descriptor) }

        /// Names created or moved in within `milliseconds`.
        func next(milliseconds: Int32) -> [String] {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, milliseconds) > 0 else { return [] }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { return [] }
            var names: [String] = []
            var position = 0
            while position + 16 <= count {
                let length = buffer[(position + 12)..<(position + 16)].withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
                let name = buffer[(position + 16)..<min(count, position + 16 + length)].prefix { $0 != 0 }
                names.append(String(decoding: name, as: UTF8.self))
                position += 16 + length
            }
            return names
        }
    }

    @Test("killed as the cleaned files are written, renamed to .swap, the old segments retired, the new ones installed")
    func killedAtEachStep() async throws {
        try await onOwnThread {
            let root = temporaryDirectory()
            defer { removeDirectory(root) }
            let original = root + "/original"
            var before: [LogRecord] = []
            var activeBase: Int64 = 0
            do {
                let store = try Reservoir.open(at: original, options: onDemandMaintenance)
                try store.createTopic("t", config: TopicConfig(segmentBytes: 2048, indexIntervalBytes: 256, cleanup: .compact))
                for start in stride(from: 0, to: 600, by: 10) {
                    try store.append(
                        to: "t",
                        records: (start..<start + 10).map {
                            Record(key: Array("k-\($0 % 20)".utf8), value: Array("v-\($0)".utf8), headers: [RecordHeader("n", "\($0)")])
                        }, acks: .buffered)
                }
                let log = try store.log(topic: "t", partition: 0)
                before = try allRecords(log)
                activeBase = try #require(log.segments.last).baseOffset
                try store.close()
            }
            let after = compactedOracle(before, activeBase: activeBase)
            #expect(after.count < before.count)

            // Each step is recognised by the name a rename or creation gives a file.
            let steps: [(String, (String) -> Bool)] = [
                ("a .cleaned file created", { $0.hasSuffix(".cleaned") }),
                ("a .cleaned file renamed .swap", { $0.hasSuffix(".swap") }),
                ("an old segment renamed .deleted", { $0.hasSuffix(".log.deleted") }),
                ("a .swap file installed as .log", { $0.hasSuffix(".log") }),
            ]
            var statesSeen: Set<String> = []
            for (name, matches) in steps {
                for attempt in 0..<3 {
                    let directory = root + "/attempt"
                    try? FileManager.default.removeItem(atPath: directory)
                    try FileManager.default.copyItem(atPath: original, toPath: directory)
                    let watch = try DirectoryWatch(directory + "/topics/t/0")
                    let process = ChildProcess()
                    process.executableURL = reservoirExecutable()
                    process.arguments = ["maintain", "t", "--compact", "--force", "--dir", directory]
                    process.standardOutput = FileHandle.nullDevice
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    var killed = false
                    while process.isRunning && !killed {
                        if watch.next(milliseconds: 20).contains(where: matches) {
                            Foundation.kill(process.processIdentifier, SIGKILL)
                            killed = true
                        }
                    }
                    process.waitUntilExit()
                    let leftovers = fileNames(directory + "/topics/t/0").filter {
                        $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted")
                    }
                    if killed {
                        // The state: how many files of each intermediate kind the kill left.
                        let kinds = Dictionary(grouping: leftovers) { String($0.split(separator: ".").dropFirst().joined(separator: ".")) }
                        statesSeen.insert(kinds.keys.sorted().map { "\(kinds[$0]!.count) \($0)" }.joined(separator: ", "))
                    }
                    let store = try Reservoir.open(at: directory, options: onDemandMaintenance)
                    let records = try allRecords(store.log(topic: "t", partition: 0))
                    #expect(
                        records == before || records == after,
                        "\(name), attempt \(attempt): neither the records before the clean nor the model's after it (\(records.count) records)"
                    )
                    #expect(fileNames(directory + "/topics/t/0").allSatisfy { !$0.hasSuffix(".cleaned") && !$0.hasSuffix(".swap") })
                    // The recovered store compacts again to exactly the model.
                    try store.maintain(topic: "t", retention: false, ignoringDirtyRatio: true)
                    #expect(try allRecords(store.log(topic: "t", partition: 0)) == after, "\(name), attempt \(attempt): a second clean")
                    try store.close()
                    #expect(killed, "\(name), attempt \(attempt): the cleaner finished before the kill")
                }
            }
            print("compaction kill states: \(statesSeen.sorted())")
            // The kills landed in different states of the swap, not all before or after it.
            #expect(statesSeen.count >= 3, "\(statesSeen)")
        }
    }
}
