import ArgumentParser
import Foundation
import Reservoir

struct ProduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Append one record per line of standard input (streamed, batched as it arrives).",
        discussion: """
            Lines are values (or KEY<SEP>VALUE with --key-separator), as text or, with --encoding, \
            base64 or hex. --delimiter splits records at another string, so values may hold newlines. \
            With --input json, each line is a record in the shape `consume --json` prints (key, value, \
            their encodings, headers, a null value for a tombstone; partition and timestamp when given), \
            so that anything consumed can be produced again.
            """)

    @OptionGroup var store: StoreOptions
    @Argument var topic: String
    @Option(help: "Write every record to this partition.") var partition: Int?
    @Option(name: .customLong("key-separator"), help: "Split each line at the first SEP into key and value.") var keySeparator: String?
    @Option(help: "durable (fsync before acknowledging) or buffered.") var acks = "durable"
    @Option(name: .customLong("header"), help: "K=V header for every record (repeatable).") var headers: [String] = []
    @Flag(help: "Print a JSON line per acknowledged batch (partition, first, last).") var json = false
    @Flag(help: "Create the topic with defaults if it does not exist.") var create = false
    @Option(name: .customLong("batch-records"), help: "At most this many lines per batch.") var batchRecords = 1000
    @Option(help: "lines (values, or KEY<SEP>VALUE) or json (the lines `consume --json` prints).") var input: InputFormat = .lines
    @Option(help: "With --input lines: the record separator, escapes \\n \\t \\r \\0 allowed (default: a newline).") var delimiter = "\\n"
    @Option(help: "With --input lines: keys and values are utf8 text, base64 or hex.") var encoding: TextEncoding = .utf8
    @Flag(help: "With --input lines: an empty value is a null value (a tombstone on a compacted topic).") var emptyIsNull = false

    enum InputFormat: String, ExpressibleByArgument { case lines, json }
    enum TextEncoding: String, ExpressibleByArgument { case utf8, base64, hex }

    func validate() throws {
        guard acks == "durable" || acks == "buffered" else { throw ValidationError("--acks must be durable or buffered") }
        guard batchRecords > 0 else { throw ValidationError("--batch-records must be positive") }
        if let keySeparator, keySeparator.isEmpty { throw ValidationError("--key-separator must not be empty") }
        for header in headers where !header.contains("=") { throw ValidationError("--header takes K=V, not \(header)") }
        if Self.unescape(delimiter).isEmpty { throw ValidationError("--delimiter must not be empty") }
    }

    /// `\n`, `\t`, `\r`, `\0` and `\\` in `text` replaced by the bytes they name.
    static func unescape(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var escaped = false
        for byte in text.utf8 {
            if escaped {
                switch byte {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "0"): out.append(0)
                default: out.append(byte)
                }
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        if escaped { out.append(UInt8(ascii: "\\")) }
        return out
    }

    func run() throws {
        let reservoir = try store.open()
        defer { reservoir.closeOrExit() }
        if create && !reservoir.topicNames.contains(topic) { try reservoir.createTopic(topic) }
        let config = try reservoir.topic(topic).config
        // Batches stay well under the topic's batch limit (record overhead is at most ~30 bytes
        // plus the headers).
        let byteBudget = max(1, config.maxBatchBytes / 2)
        let recordHeaders = headers.map { header -> RecordHeader in
            let parts = header.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return RecordHeader(String(parts[0]), Array((parts.count > 1 ? parts[1] : "").utf8))
        }
        let separator = keySeparator.map { Array($0.utf8) }
        let recordDelimiter = input == .json ? [10] : Self.unescape(delimiter)
        let headerBytes = headers.reduce(0) { $0 + $1.utf8.count + 10 }
        // The options the per-record code reads, copied out of their property wrappers once:
        // reading a wrapper costs a generic metadata lookup, every line.
        let input = self.input
        let encoding = self.encoding
        let emptyIsNull = self.emptyIsNull
        let partition = self.partition
        let batchRecords = self.batchRecords
        let json = self.json
        // Batches go through a producer, so that reading and encoding the next batch overlaps
        // writing the last; one builder per partition (unkeyed lines share one, sent round robin).
        let producer = try reservoir.makeProducer(for: topic, acks: acks == "durable" ? .durable : .buffered, maxInFlight: 4)
        // One slot per partition, after one for unkeyed records (slot -1 at index 0): an array,
        // not a dictionary, since every record looks its batch up.
        var builders = [RecordBatchBuilder?](repeating: nil, count: config.partitions + 1)
        var tickets: [PendingAppend] = []
        var reported = 0
        var ranges: [Int: (first: Int64, last: Int64, count: Int)] = [:]
        var total = 0

        // Prints acknowledgements in the order the batches were sent: those complete, or all
        // (then, after a failure, every batch that did get written).
        func report(waiting: Bool, skippingFailures: Bool = false) throws {
            while reported < tickets.count, waiting || tickets[reported].isComplete {
                let ticket = tickets[reported]
                guard let range = skippingFailures ? try? ticket.wait() : try ticket.wait() else {
                    reported += 1
                    continue
                }
                reported += 1
                let previous = ranges[range.partition]
                ranges[range.partition] = (
                    min(previous?.first ?? .max, range.offsets.lowerBound),
                    max(previous?.last ?? .min, range.offsets.upperBound),
                    (previous?.count ?? 0) + range.offsets.count
                )
                total += range.offsets.count
                if json {
                    Output.write(
                        "{\"partition\":\(range.partition),\"first\":\(range.offsets.lowerBound),\"last\":\(range.offsets.upperBound)}\n")
                    Output.flush()
                }
            }
            if reported == tickets.count {
                tickets.removeAll(keepingCapacity: true)
                reported = 0
            }
        }

        func send(_ slot: Int) throws {
            guard let builder = builders[slot + 1], !builder.isEmpty else { return }
            tickets.append(try producer.send(builder, partition: slot >= 0 ? slot : nil))
            try report(waiting: false)
        }

        func sendAll() throws {
            for slot in -1..<config.partitions { try send(slot) }
        }

        var lineNumber = 0

        /// The batch of `slot` (a partition, or -1 for unkeyed records sent round robin), sent
        /// first when `size` more bytes would take it past the budget.
        func builder(for slot: Int, adding size: Int) throws -> RecordBatchBuilder {
            guard slot >= -1 && slot < config.partitions else {
                throw CLIFailure("topic \(topic) has partitions 0..<\(config.partitions), not \(slot)")
            }
            if let filling = builders[slot + 1] {
                if filling.recordsByteCount + size > byteBudget { try send(slot) }
                return filling
            }
            let builder = try producer.makeBatchBuilder()
            builders[slot + 1] = builder
            return builder
        }

        /// Adds one record to its partition's batch, sent once it holds `--batch-records`.
        func add(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], partition chosen: Int?, timestamp: Int64?) throws {
            let slot = partition ?? chosen ?? key.map { Partitioner.partition(forKey: $0, partitions: config.partitions) } ?? -1
            let size =
                (key?.count ?? 0) + (value?.count ?? 0) + 30 + headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) + 10 }
            let batch = try builder(for: slot, adding: size)
            try batch.append(key: key, value: value, headers: headers, timestamp: timestamp)
            if batch.count >= batchRecords { try send(slot) }
        }

        func add(_ line: ArraySlice<UInt8>) throws {
            lineNumber += 1
            if input == .json {
                guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == 9 }) else { return }
                let record = try JSONRecordInput.parse(line, line: lineNumber)
                try add(
                    key: record.key, value: record.value, headers: recordHeaders + record.headers,
                    partition: record.partition, timestamp: record.timestamp)
                return
            }
            var keyText: ArraySlice<UInt8>?
            var valueText = line
            if let separator, let split = firstRange(of: separator, in: line) {
                keyText = line[..<split.lowerBound]
                valueText = line[split.upperBound...]
            }
            guard encoding == .utf8 && !emptyIsNull else {
                func decode(_ text: ArraySlice<UInt8>, _ what: String) throws -> [UInt8] {
                    switch encoding {
                    case .utf8: return Array(text)
                    case .base64:
                        guard let bytes = BinaryText.base64(text) else {
                            throw CLIFailure("record \(lineNumber): the \(what) is not base64")
                        }
                        return bytes
                    case .hex:
                        guard let bytes = BinaryText.hex(text) else { throw CLIFailure("record \(lineNumber): the \(what) is not hex") }
                        return bytes
                    }
                }
                let key = try keyText.map { try decode($0, "key") }
                let value = emptyIsNull && valueText.isEmpty ? nil : try decode(valueText, "value")
                try add(key: key, value: value, headers: recordHeaders, partition: nil, timestamp: nil)
                return
            }
            // Text as it is: key and value go straight from the input buffer into the batch.
            let slot = partition ?? keyText.map { Partitioner.partition(forKey: Array($0), partitions: config.partitions) } ?? -1
            let batch = try builder(for: slot, adding: line.count + 30 + headerBytes)
            try valueText.withUnsafeBytes { value in
                if let keyText {
                    try keyText.withUnsafeBytes { key in try batch.append(key: key, value: value, headers: recordHeaders) }
                } else {
                    try batch.append(key: nil, value: value, headers: recordHeaders)
                }
            }
            if batch.count >= batchRecords { try send(slot) }
        }

        /// Whether lines go into records as they are: text, not JSON, no tombstones for empty lines.
        let plainText = input != .json && encoding == .utf8 && !emptyIsNull

        /// `add(_:)` for a line of plain text, read in place: the value, and the key before the
        /// first `--key-separator`.
        func addText(_ line: UnsafeRawBufferPointer) throws {
            lineNumber += 1
            var key: UnsafeRawBufferPointer?
            var value = line
            if let separator, let base = line.baseAddress, let keyCount = Self.firstIndex(of: separator, in: line) {
                key = UnsafeRawBufferPointer(start: base, count: keyCount)
                value = UnsafeRawBufferPointer(start: base + keyCount + separator.count, count: line.count - keyCount - separator.count)
            }
            let slot = partition ?? key.map { Partitioner.partition(forKey: Array($0), partitions: config.partitions) } ?? -1
            let batch = try builder(for: slot, adding: line.count + 30 + headerBytes)
            try batch.append(key: key, value: value, headers: recordHeaders)
            if batch.count >= batchRecords { try send(slot) }
        }

        do {
            // Input is read in large blocks straight into one buffer; records are split in place
            // and handed to the batches as slices of it; only a record cut by the block's end
            // moves, to the front, before the next read.
            var data = [UInt8](repeating: 0, count: 1 << 20)
            var filled = 0
            while true {
                // While input keeps coming, batches fill and go out as they fill; once it pauses,
                // whatever arrived is sent and acknowledged before waiting for more, so a slow
                // typist gets each line acknowledged at once.
                var ready = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                if poll(&ready, 1, 0) == 0 {
                    try sendAll()
                    try report(waiting: true)
                }
                // A record longer than the buffer: the buffer doubles.
                if filled == data.count { data.append(contentsOf: repeatElement(0, count: data.count)) }
                let count = data.withUnsafeMutableBytes { read(0, $0.baseAddress! + filled, $0.count - filled) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw CLIFailure("reading standard input failed: \(String(cString: strerror(errno)))")
                }
                if count == 0 { break }
                let searchFrom = filled
                filled += count
                var start = 0
                if recordDelimiter == [10] && plainText {
                    // Text lines as they are (the usual input): found with memchr and appended
                    // from the buffer in place, without a slice or a closure call per line.
                    try data.withUnsafeBytes { (bytes) throws in
                        guard let base = bytes.baseAddress else { return }
                        var from = searchFrom
                        while from < filled, let found = memchr(base + from, 10, filled - from) {
                            let newline = base.distance(to: UnsafeRawPointer(found))
                            var end = newline
                            if end > start && base.load(fromByteOffset: end - 1, as: UInt8.self) == UInt8(ascii: "\r") { end -= 1 }
                            try addText(UnsafeRawBufferPointer(start: base + start, count: end - start))
                            start = newline + 1
                            from = start
                        }
                    }
                } else if recordDelimiter == [10] {
                    var from = searchFrom
                    while let newline = Self.newline(in: data, from: from, to: filled) {
                        var end = newline
                        if end > start && data[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                        try add(data[start..<end])
                        start = newline + 1
                        from = start
                    }
                } else {
                    while let found = firstRange(of: recordDelimiter, in: data[start..<filled]) {
                        try add(data[start..<found.lowerBound])
                        start = found.upperBound
                    }
                }
                if start > 0 {
                    let rest = filled - start
                    data.withUnsafeMutableBytes { bytes in
                        // The cut record's bytes move to the front (the ranges may overlap).
                        if rest > 0, let base = bytes.baseAddress { memmove(base, base + start, rest) }
                    }
                    filled = rest
                }
            }
            if filled > 0 { try add(data[0..<filled]) }
            try sendAll()
            try producer.close()
            try report(waiting: true)
        } catch {
            // Report what was acknowledged before the failure, then the failure.
            try? producer.close()
            try? report(waiting: true, skippingFailures: true)
            Output.flush()
            throw error
        }
        Output.flush()
        let summary = ranges.keys.sorted().map { "partition \($0): offsets \(ranges[$0]!.first)-\(ranges[$0]!.last)" }
        FileHandle.standardError.write(
            Data(
                "produced \(total) record\(total == 1 ? "" : "s") to \(topic)\(summary.isEmpty ? "" : ": " + summary.joined(separator: ", "))\n"
                    .utf8))
    }

    /// Where `needle` (not empty) first starts in `haystack`: candidates found with `memchr`.
    private static func firstIndex(of needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, let first = needle.first, needle.count <= haystack.count else { return nil }
        let last = haystack.count - needle.count
        var from = 0
        while from <= last, let found = memchr(base + from, Int32(first), last - from + 1) {
            let index = base.distance(to: UnsafeRawPointer(found))
            if needle.withUnsafeBytes({ $0.baseAddress.map { memcmp(base + index, $0, needle.count) == 0 } ?? false }) { return index }
            from = index + 1
        }
        return nil
    }

    /// The index of the first newline in `data[from..<to]` (`memchr`).
    private static func newline(in data: [UInt8], from: Int, to: Int) -> Int? {
        guard from < to else { return nil }
        return data.withUnsafeBytes { bytes -> Int? in
            guard let base = bytes.baseAddress, let found = memchr(base + from, 10, to - from) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    private func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in haystack.startIndex...(haystack.endIndex - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start..<(start + needle.count) }
        }
        return nil
    }
}
