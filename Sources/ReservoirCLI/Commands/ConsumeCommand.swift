import ArgumentParser
import Foundation
import Reservoir
import Synchronization

struct ConsumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Print records: values one per line, or JSON lines.")

    @OptionGroup var store: StoreOptions
    @Argument var topic: String
    @Option(help: "Only this partition (default: all, one after another).") var partition: Int?
    @Option(help: "earliest, latest, an OFFSET, or @EPOCH_MS.") var from = "earliest"
    @Option(help: "Stop after this many records.") var max: Int?
    @Flag(help: "JSON lines with topic, partition, offset, timestamp, key, value, headers (the shape `produce --input json` reads).")
    var json = false
    @Option(help: "With --json: how bytes that are not UTF-8 are written, base64 or hex.") var binary: BinaryEncoding = .base64
    @Option(
        help:
            "Plain output as a format string (as kcat's -f): %v value, %k key, %t topic, %p partition, %o offset, %T timestamp, %h headers, %S value size, %K key size; default \"%v\\n\"."
    )
    var format = "%v\\n"
    @Option(help: "Read as a member of this consumer group: from its committed offsets, committing as it goes.") var group: String?
    @Option(help: "With --group: auto (commit what was printed) or none.") var commit = "auto"
    @Flag(help: "Keep waiting for new records (until interrupted).") var follow = false
    @Option(
        help:
            "Without --group, while another process writes the store: durable (records already on disk, the default) or written (also those it has written but not yet synced)."
    )
    var isolation: IsolationOption = .durable

    func validate() throws {
        guard from == "earliest" || from == "latest" || Int64(from) != nil || (from.hasPrefix("@") && Int64(from.dropFirst()) != nil) else {
            throw ValidationError("--from must be earliest, latest, an offset or @EPOCH_MS, not \(from)")
        }
        if let max, max < 0 { throw ValidationError("--max must not be negative") }
        guard commit == "auto" || commit == "none" else { throw ValidationError("--commit must be auto or none") }
        if group != nil && partition != nil { throw ValidationError("--partition cannot be combined with --group") }
        _ = try RecordFormat(format)
    }

    func run() throws {
        let plain = try RecordFormat(format)
        if let group { return try runGroup(group, plain) }
        if follow { return try runFollow(plain) }
        let reservoir = try store.openForReading(visibility: isolation.value)
        defer { reservoir.closeOrExit() }
        let handle = try reservoir.topic(topic)
        let partitions = partition.map { [$0] } ?? Array(0..<handle.config.partitions)
        var remaining = max ?? Int.max
        let decoder = RecordDecoder()
        // Read once out of their property wrappers, not once per record.
        let json = self.json
        let topic = self.topic
        let binary = self.binary
        for partition in partitions where remaining > 0 {
            let log = try reservoir.log(topic: topic, partition: partition)
            var offset: Int64
            switch from {
            case "earliest": offset = log.startOffset
            case "latest": offset = log.endOffset
            default:
                if from.hasPrefix("@"), let time = Int64(from.dropFirst()) {
                    offset = try log.offset(forTimestamp: time)?.offset ?? log.endOffset
                } else {
                    offset = Int64(from) ?? 0
                }
            }
            let end = log.endOffset
            var line = JSONLinePartition(topic: topic, partition: partition)
            while offset < end && remaining > 0 {
                let result = try log.read(from: offset, maxBytes: 1 << 20)
                if result.isEmpty { break }
                let batches = result.batches
                for (index, batch) in batches.enumerated() {
                    do {
                        let next = index + 1 < batches.count ? batches[index + 1] : nil
                        try decoder.forEachRecord(in: batch, checkingAhead: next) { record in
                            guard record.offset >= offset, remaining > 0 else { return }
                            remaining -= 1
                            if json {
                                RecordJSON.writeToOutput(record, topic: topic, partition: partition, line: &line, binary: binary)
                                Output.flushIfFull()
                            } else {
                                plain.write(record, topic: topic, partition: partition)
                            }
                        }
                    } catch {
                        throw CLIFailure(
                            "topic \(topic) partition \(partition): the batch at offset \(batch.baseOffset) in \(log.segmentFile(containing: batch.baseOffset)) is damaged: \(error)"
                        )
                    }
                }
                offset = result.nextOffset
            }
        }
        Output.flush()
    }

    /// As a group member: commits after each poll (auto) and when done.
    private func runGroup(_ group: String, _ plain: RecordFormat) throws {
        let reservoir = try store.open()
        defer { reservoir.closeOrExit() }
        let options = ConsumerOptions(
            commit: commit == "auto" ? .auto(intervalMilliseconds: 0) : .manual,
            resetTo: try parseStartPosition(from, option: "--from"))
        let member = try reservoir.consumer(group: group, topics: [topic], options: options)
        var remaining = max ?? Int.max
        if follow {
            let limit = remaining
            try runAndWait { [self] in
                var printed = 0
                for try await record in member.records {
                    print(record, plain)
                    printed += 1
                    if printed == limit { break }
                }
            }
        } else {
            while remaining > 0 {
                let records = try member.poll(maxRecords: Swift.min(remaining, 1000))
                if records.isEmpty { break }
                for record in records { print(record, plain) }
                remaining -= records.count
            }
        }
        Output.flush()
        try member.close()
    }

    /// Without a group: every partition (or one) from --from, waiting for more.
    private func runFollow(_ plain: RecordFormat) throws {
        let reservoir = try store.openForReading(visibility: isolation.value)
        defer { reservoir.closeOrExit() }
        let handle = try reservoir.topic(topic)
        let start = try parseStartPosition(from, option: "--from")
        let readers = try (partition.map { [$0] } ?? Array(0..<handle.config.partitions)).map {
            try reservoir.reader(topic: topic, partition: $0, from: start)
        }
        let limit = max ?? Int.max
        try runAndWait { [self] in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                let printed = SharedCount()
                for reader in readers {
                    tasks.addTask {
                        for try await record in reader {
                            let count = printed.value.add(1, ordering: .relaxed).newValue
                            guard count <= limit else { break }
                            print(record, plain)
                            if count == limit { break }
                        }
                    }
                }
                // With --max, the command ends once that many are printed: the other partitions'
                // readers stop waiting.
                do {
                    while try await tasks.next() != nil {
                        if printed.value.load(ordering: .relaxed) >= limit { tasks.cancelAll() }
                    }
                } catch is CancellationError {}
            }
        }
    }

    /// Prints one record and flushes (follow and group modes print as records arrive).
    private func print(_ record: ConsumerRecord, _ plain: RecordFormat) {
        if json {
            Output.write(jsonLine(record))
        } else {
            plain.write(
                topic: record.topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp,
                key: record.key, value: record.value, headers: record.headers)
        }
        Output.flush()
    }

    private func jsonLine(_ record: ConsumerRecord) -> String {
        jsonLine(
            partition: record.partition, offset: record.offset, timestamp: record.timestamp, key: record.key,
            value: record.value, headers: record.headers)
    }

    private func jsonLine(partition: Int, offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader])
        -> String
    {
        RecordJSON.line(
            .init(
                topic: topic, partition: partition, offset: offset, timestamp: timestamp, key: key, value: value,
                headers: headers), binary: binary)
    }
}

/// `--isolation`: up to where a read-only command reads while another process writes the store.
enum IsolationOption: String, ExpressibleByArgument, CaseIterable {
    case durable, written

    var value: ReadIsolation { self == .durable ? .durable : .written }
}
