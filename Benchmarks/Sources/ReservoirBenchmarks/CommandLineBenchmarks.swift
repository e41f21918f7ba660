import Foundation
import Reservoir

/// The command line against the library, in the same run: `reservoir produce` of 1 M lines of
/// 100 bytes against the builder path appending the same values, and `reservoir consume` (values,
/// and `--json`) against the library's sequential read of the same partition.
///
/// The commands are timed as a user runs them, whole processes (start, open, close included),
/// output to `/dev/null`; the library figures time the appends and the reads alone. The binary is
/// `RESERVOIR_CLI`, else the package's release build (`make bench` builds it first).
enum CommandLineBenchmarks {
    static func run() throws {
        print("## The command line against the library (1 M lines of 100 bytes)\n")
        let binary = ProcessInfo.processInfo.environment["RESERVOIR_CLI"] ?? "../.build/release/reservoir"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("skipped: no \(binary) (build it with `swift build -c release --product reservoir`)\n")
            return
        }
        let count = 1_000_000
        let values = Harness.records(count: 100_000, valueSize: 100).map { $0.value ?? [] }
        var text: [UInt8] = []
        text.reserveCapacity(count * 101)
        for index in 0..<count {
            text += values[index % values.count]
            text.append(UInt8(ascii: "\n"))
        }
        let lines = Harness.scratch + "/lines.txt"
        try Data(text).write(to: URL(fileURLWithPath: lines))
        defer { try? FileManager.default.removeItem(atPath: lines) }

        var library: [Double] = []
        var libraryClosed: [Double] = []
        var produce: [Double] = []
        var reads: [Double] = []
        var consume: [Double] = []
        var json: [Double] = []
        for _ in 0..<Harness.rounds {
            let (appends, closed) = try appendThroughBuilder(values, count: count)
            library.append(Double(count) / appends)
            libraryClosed.append(Double(count) / closed)
            let dir = Harness.freshDirectory("cli")
            produce.append(
                Double(count) / (try timed(binary, ["--dir", dir, "produce", "t", "--acks", "buffered", "--create"], input: lines)))
            reads.append(Double(count) / (try readSequentially(dir, expecting: count)))
            consume.append(Double(count) / (try timed(binary, ["--dir", dir, "consume", "t"], input: nil)))
            json.append(Double(count) / (try timed(binary, ["--dir", dir, "consume", "t", "--json"], input: nil)))
            try? FileManager.default.removeItem(atPath: dir)
        }
        let builderRate = Harness.median(library)
        let readRate = Harness.median(reads)
        print("| what | records/s | against the library | bar |")
        print("|---|---|---|---|")
        let closedRate = Harness.median(libraryClosed)
        print("| library: builder appends (`acks: .buffered`) | \(Harness.format(builderRate)) | | |")
        print(
            "| library: the same appends and the store's close, which flushes them as `produce`'s does | \(Harness.format(closedRate)) | | |"
        )
        print(
            "| `reservoir produce t --acks buffered < lines` | \(Harness.format(Harness.median(produce))) | \(percent(Harness.median(produce), builderRate)) (\(percent(Harness.median(produce), closedRate)) with the close) | 50% |"
        )
        print("| library: sequential read, every value touched | \(Harness.format(readRate)) | | |")
        print(
            "| `reservoir consume t > /dev/null` | \(Harness.format(Harness.median(consume))) | \(percent(Harness.median(consume), readRate)) | 50% |"
        )
        print(
            "| `reservoir consume t --json > /dev/null` | \(Harness.format(Harness.median(json))) | \(percent(Harness.median(json), readRate)) | 20% |\n"
        )
    }

    private static func percent(_ value: Double, _ base: Double) -> String {
        String(format: "%.0f%%", 100 * value / base)
    }

    /// Seconds to append `count` values through a reused builder, 1000 records a batch, as the
    /// command line batches them (one partition, no key); and seconds to the end of the store's
    /// close, whose flush of the appended segment `produce` also waits for before it exits.
    private static func appendThroughBuilder(_ values: [[UInt8]], count: Int) throws -> (appends: Double, closed: Double) {
        let dir = Harness.freshDirectory("cli-library")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig())
        let builder = try store.makeBatchBuilder(for: "t")
        let start = Harness.now()
        var appended = 0
        while appended < count {
            for index in appended..<min(appended + 1000, count) {
                try values[index % values.count].withUnsafeBytes { try builder.append(key: nil, value: $0) }
            }
            appended = min(appended + 1000, count)
            try store.append(to: "t", batch: builder, partition: 0, acks: .buffered)
        }
        let elapsed = Harness.now() - start
        try store.close()
        return (elapsed, Harness.now() - start)
    }

    /// Seconds to read partition 0 of topic `t` from the start, touching every value.
    private static func readSequentially(_ dir: String, expecting count: Int) throws -> Double {
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        var tally = ValueByteTally()
        let elapsed = try Harness.readSequentially(log, into: &tally)
        precondition(tally.records == count && tally.valueBytes == count * 100, "the read saw \(tally.records) records")
        return elapsed
    }

    /// Seconds for `binary arguments`, stdin from `input` (or nothing), stdout and stderr to
    /// /dev/null, from the spawn to `waitpid`'s return, as a shell times it. (Foundation's
    /// `Process.waitUntilExit` polls its run loop every 50 ms on Linux, which rounded the times
    /// of these 40–200 ms commands up by as much as 50 ms.)
    private static func timed(_ binary: String, _ arguments: [String], input: String?) throws -> Double {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let start = Harness.now()
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        precondition(spawned == 0, "spawning \(binary) failed: \(String(cString: strerror(spawned)))")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            precondition(errno == EINTR, "waitpid failed: \(String(cString: strerror(errno)))")
        }
        let elapsed = Harness.now() - start
        // Exited (the low seven bits zero) with status 0.
        precondition(status & 0x7F == 0 && (status >> 8) & 0xFF == 0, "\(binary) \(arguments) ended with status \(status)")
        return elapsed
    }
}
