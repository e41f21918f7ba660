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
        var produce: [Double] = []
        var reads: [Double] = []
        var consume: [Double] = []
        var json: [Double] = []
        for _ in 0..<Harness.rounds {
            library.append(Double(count) / (try appendThroughBuilder(values, count: count)))
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
        print("| library: builder appends (`acks: .buffered`) | \(Harness.format(builderRate)) | | |")
        print(
            "| `reservoir produce t --acks buffered < lines` | \(Harness.format(Harness.median(produce))) | \(percent(Harness.median(produce), builderRate)) | 50% |"
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
    /// command line batches them (one partition, no key).
    private static func appendThroughBuilder(_ values: [[UInt8]], count: Int) throws -> Double {
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
        return elapsed
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

    /// Seconds for `binary arguments`, stdin from `input` (or nothing), stdout and stderr to /dev/null.
    private static func timed(_ binary: String, _ arguments: [String], input: String?) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardInput = try input.map { try FileHandle(forReadingFrom: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = Harness.now()
        try process.run()
        process.waitUntilExit()
        let elapsed = Harness.now() - start
        precondition(process.terminationStatus == 0, "\(binary) \(arguments) exited with \(process.terminationStatus)")
        return elapsed
    }
}
