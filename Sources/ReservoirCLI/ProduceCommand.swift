import ArgumentParser
import Foundation
import Reservoir

struct ProduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Append one record per line of standard input (streamed, batched as it arrives).")

    @OptionGroup var store: StoreOptions
    @Argument var topic: String
    @Option(help: "Write every record to this partition.") var partition: Int?
    @Option(name: .customLong("key-separator"), help: "Split each line at the first SEP into key and value.") var keySeparator: String?
    @Option(help: "durable (fsync before acknowledging) or buffered.") var acks = "durable"
    @Option(name: .customLong("header"), help: "K=V header for every record (repeatable).") var headers: [String] = []
    @Flag(help: "Print a JSON line per acknowledged batch (partition, first, last).") var json = false
    @Flag(help: "Create the topic with defaults if it does not exist.") var create = false
    @Option(name: .customLong("batch-records"), help: "At most this many lines per batch.") var batchRecords = 1000

    func validate() throws {
        guard acks == "durable" || acks == "buffered" else { throw ValidationError("--acks must be durable or buffered") }
        guard batchRecords > 0 else { throw ValidationError("--batch-records must be positive") }
        if let keySeparator, keySeparator.isEmpty { throw ValidationError("--key-separator must not be empty") }
        for header in headers where !header.contains("=") { throw ValidationError("--header takes K=V, not \(header)") }
    }

    func run() throws {
        let reservoir = try store.open()
        defer { try? reservoir.close() }
        if create && !reservoir.topicNames.contains(topic) { try reservoir.createTopic(topic) }
        // Batches stay well under the topic's batch limit (record overhead is at most ~30 bytes
        // plus the headers).
        let byteBudget = max(1, try reservoir.topic(topic).config.maxBatchBytes / 2)
        let recordHeaders = headers.map { header -> RecordHeader in
            let parts = header.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return RecordHeader(String(parts[0]), Array((parts.count > 1 ? parts[1] : "").utf8))
        }
        let ack: Acks = acks == "durable" ? .durable : .buffered
        let separator = keySeparator.map { Array($0.utf8) }
        var ranges: [Int: (first: Int64, last: Int64, count: Int)] = [:]
        var pending: [Record] = []
        var pendingBytes = 0
        var total = 0
        let headerBytes = headers.reduce(0) { $0 + $1.utf8.count + 10 }

        func send() throws {
            guard !pending.isEmpty else { return }
            for range in try reservoir.append(to: topic, records: pending, partition: partition, acks: ack) {
                let previous = ranges[range.partition]
                ranges[range.partition] = (min(previous?.first ?? .max, range.offsets.lowerBound),
                                           max(previous?.last ?? .min, range.offsets.upperBound),
                                           (previous?.count ?? 0) + range.offsets.count)
                if json {
                    Output.write("{\"partition\":\(range.partition),\"first\":\(range.offsets.lowerBound),\"last\":\(range.offsets.upperBound)}\n")
                    Output.flush()
                }
            }
            total += pending.count
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }

        func record(from line: ArraySlice<UInt8>) -> Record {
            var key: [UInt8]?
            var value = Array(line)
            if let separator, let split = firstRange(of: separator, in: value) {
                key = Array(value[..<split.lowerBound])
                value = Array(value[split.upperBound...])
            }
            return Record(key: key, value: value, headers: recordHeaders)
        }

        // Lines are batched per read(): whatever arrived together goes out together, so a fast
        // pipe makes large batches and a slow typist gets each line acknowledged at once.
        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIFailure("reading standard input failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            carry.append(contentsOf: buffer[0..<count])
            var start = carry.startIndex
            while let newline = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && carry[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let size = end - start + 30 + headerBytes
                if !pending.isEmpty && pendingBytes + size > byteBudget { try send() }
                pending.append(record(from: carry[start..<end]))
                pendingBytes += size
                start = newline + 1
                if pending.count >= batchRecords { try send() }
            }
            carry.removeSubrange(..<start)
            try send()
        }
        if !carry.isEmpty {
            pending.append(record(from: carry[...]))
            try send()
        }
        Output.flush()
        let summary = ranges.keys.sorted().map { "partition \($0): offsets \(ranges[$0]!.first)-\(ranges[$0]!.last)" }
        FileHandle.standardError.write(Data("produced \(total) record\(total == 1 ? "" : "s") to \(topic)\(summary.isEmpty ? "" : ": " + summary.joined(separator: ", "))\n".utf8))
    }

    private func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start..<(start + needle.count) }
        }
        return nil
    }
}
