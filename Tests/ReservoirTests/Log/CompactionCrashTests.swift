import Foundation
import Logging
import Synchronization
import Testing
@testable import Reservoir

/// A crash at each step of the compaction swap, made by stopping the swap there and reopening
/// the log without closing it: the log must hold exactly the records before the clean or
/// exactly those after it.
@Suite("Compaction: crash at every swap state")
struct CompactionCrashTests {
    static let config = LogConfig(segmentBytes: 2048, indexIntervalBytes: 256)
    static let logger = Logger(label: "compaction-crash-tests")

    private static func open(_ directory: String, thread: IOThread, clean: Bool = false) throws -> PartitionLog {
        try PartitionLog(directory: directory, config: config, logStartOffset: 0, recoveryPoint: 0, cleanShutdown: clean,
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
        do {
            let log = try Self.open(finished, thread: thread, clean: true)
            let result = try #require(try Self.clean(log))
            #expect(result.segmentsBefore > 2)
            after = try allRecords(log)
        }
        #expect(after.count < before.count)
        #expect(after.map(\.offset).last == before.map(\.offset).last)

        let expectations: [(PartitionLog.SwapStep?, Bool)] = [
            (.cleanedWritten, false), (.someSwapped, false), (.allSwapped, true), (.oldDeleted, true), (.someInstalled, true),
            (nil, true),  // swapped completely, removal of the .deleted files still pending
        ]
        for (step, cleaned) in expectations {
            let directory = root + "/crash-\(step.map { "\($0)" } ?? "pending-delete")"
            try Self.copy(original, to: directory)
            do {
                let log = try Self.open(directory, thread: thread, clean: true)
                log.swapFailpoint.store(step?.rawValue ?? 0, ordering: .relaxed)
                let result = try Self.clean(log, deleteDelayMs: 3_600_000)
                #expect((result != nil) == (step == nil))
                let leftovers = fileNames(directory).filter { $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted") }
                #expect(!leftovers.isEmpty, "step \(String(describing: step)) left no intermediate files")
                // The process dies here: no close.
            }
            let reopened = try Self.open(directory, thread: thread)
            let records = try allRecords(reopened)
            #expect(records == (cleaned ? after : before), "after a crash at \(String(describing: step))")
            #expect(fileNames(directory).allSatisfy { !$0.hasSuffix(".cleaned") && !$0.hasSuffix(".swap") && !$0.hasSuffix(".deleted") })
            #expect(reopened.endOffset == 600)
            // The recovered log takes appends and another clean.
            try reopened.append([Record(key: Array("k-0".utf8), value: Array("again".utf8))], encoder: try RecordBatchEncoder())
            #expect(reopened.endOffset == 601)
            try reopened.close()
        }
    }
}
