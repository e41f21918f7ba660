import ArgumentParser
import Reservoir

struct ConsumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Print records: values one per line, or JSON lines.")

    @OptionGroup var store: StoreOptions
    @Argument var topic: String
    @Option(help: "Only this partition (default: all, one after another).") var partition: Int?
    @Option(help: "earliest, latest, an OFFSET, or @EPOCH_MS.") var from = "earliest"
    @Option(help: "Stop after this many records.") var max: Int?
    @Flag(help: "JSON lines with topic, partition, offset, timestamp, key, value, headers.") var json = false

    func validate() throws {
        guard from == "earliest" || from == "latest" || Int64(from) != nil || (from.hasPrefix("@") && Int64(from.dropFirst()) != nil) else {
            throw ValidationError("--from must be earliest, latest, an offset or @EPOCH_MS, not \(from)")
        }
        if let max, max < 0 { throw ValidationError("--max must not be negative") }
    }

    func run() throws {
        let reservoir = try store.open()
        defer { try? reservoir.close() }
        let handle = try reservoir.topic(topic)
        let partitions = partition.map { [$0] } ?? Array(0..<handle.config.partitions)
        var remaining = max ?? Int.max
        let decoder = RecordDecoder()
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
            while offset < end && remaining > 0 {
                let result = try log.read(from: offset, maxBytes: 1 << 20)
                if result.isEmpty { break }
                for batch in result.batches {
                    try decoder.forEachRecord(in: batch) { record in
                        guard record.offset >= offset, remaining > 0 else { return }
                        remaining -= 1
                        if json { Output.write(jsonLine(record, partition: partition)) } else {
                            Output.write(bytes: record.value ?? [])
                            Output.write("\n")
                        }
                    }
                }
                offset = result.nextOffset
            }
        }
        Output.flush()
    }

    private func jsonLine(_ record: RecordView, partition: Int) -> String {
        let key = JSONText.bytes(record.key)
        let value = JSONText.bytes(record.value)
        var line = "{\"topic\":\(JSONText.string(topic)),\"partition\":\(partition),\"offset\":\(record.offset),\"timestamp\":\(record.timestamp)"
        line += ",\"key\":\(key.value)" + (key.base64 ? ",\"key_base64\":true" : "")
        line += ",\"value\":\(value.value)" + (value.base64 ? ",\"value_base64\":true" : "")
        let headers = record.headers.map { header -> String in
            let value = JSONText.bytes(header.value)
            return "{\"key\":\(JSONText.string(header.key)),\"value\":\(value.value)" + (value.base64 ? ",\"value_base64\":true}" : "}")
        }
        return line + ",\"headers\":[\(headers.joined(separator: ","))]}\n"
    }
}
