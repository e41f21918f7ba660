import ArgumentParser
import Reservoir

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Print the batches of .log files and the entries of .index/.timeindex files (any Kafka segment).")

    @Argument(help: "Segment files.") var files: [String]
    @Flag(help: "Also print every record of each batch.") var records = false
    @Flag(help: "JSON lines; every line names its file.") var json = false
    @Option(help: "With --json --records: how bytes that are not UTF-8 are written, base64 or hex.") var binary: BinaryEncoding = .base64

    func run() throws {
        var damaged = false
        let line = ProgressLine("dump", printsAsItGoes: true)
        try line.whileRunning {
            for (index, path) in files.enumerated() {
                line.update("file \(index + 1) of \(files.count)")
                damaged = try dump(path) || damaged
            }
        }
        Output.flush()
        if damaged { throw CLIFailure("damage found (see above)") }
    }

    /// Prints one file; returns whether it is damaged.
    private func dump(_ path: String) throws -> Bool {
        if path.hasSuffix(".log") { return try dumpLog(path) }
        if path.hasSuffix(".index") {
            let (entries, partial) = try SegmentFileInspector.offsetIndexEntries(path: path)
            return dumpEntries(path, entries.map { ("offset", $0.offset, "position", Int64($0.position)) }, partial: partial)
        }
        if path.hasSuffix(".timeindex") {
            let (entries, partial) = try SegmentFileInspector.timeIndexEntries(path: path)
            return dumpEntries(path, entries.map { ("timestamp", $0.timestamp, "offset", $0.offset) }, partial: partial)
        }
        throw ValidationError("\(path): dump reads .log, .index and .timeindex files")
    }

    /// Prints index entries as two named numbers each; returns whether stray bytes follow them.
    private func dumpEntries(_ path: String, _ entries: [(String, Int64, String, Int64)], partial: Int) -> Bool {
        if !json { Output.write("Dumping \(path)\n") }
        for (firstName, first, secondName, second) in entries {
            Output.write(
                json
                    ? "{\"file\":\(JSONText.string(path)),\"\(firstName)\":\(first),\"\(secondName)\":\(second)}\n"
                    : "\(firstName): \(first) \(secondName): \(second)\n")
        }
        guard partial > 0 else { return false }
        Output.write(
            json
                ? "{\"file\":\(JSONText.string(path)),\"error\":\"\(partial) stray bytes\"}\n"
                : "error: \(partial) stray bytes after the last entry\n")
        return true
    }

    private func dumpLog(_ path: String) throws -> Bool {
        if !json { Output.write("Dumping \(path)\n") }
        let decoder = RecordDecoder()
        var damaged = false
        for entry in try SegmentFileInspector.batches(inLogFile: path) {
            if let legacy = entry.legacy {
                if !legacy.crcValid { damaged = true }
                dumpLegacy(legacy, path: path, position: entry.position)
                continue
            }
            guard let header = entry.header, let batch = entry.batch else {
                damaged = true
                Output.write(
                    json
                        ? "{\"file\":\(JSONText.string(path)),\"position\":\(entry.position),\"error\":\(JSONText.string(entry.error ?? ""))}\n"
                        : "position: \(entry.position) error: \(entry.error ?? "invalid batch")\n")
                break
            }
            if !entry.crcValid { damaged = true }
            let codec = header.compression?.description ?? "unknown(\(header.compressionCodecValue))"
            if json {
                Output.write(
                    "{\"file\":\(JSONText.string(path)),\"baseOffset\":\(header.baseOffset),\"lastOffset\":\(header.lastOffset),\"position\":\(entry.position),\"size\":\(header.totalSize),\"codec\":\"\(codec)\",\"count\":\(header.recordCount),\"maxTimestamp\":\(header.maxTimestamp),\"crcValid\":\(entry.crcValid)}\n"
                )
            } else {
                Output.write(
                    "baseOffset: \(header.baseOffset) lastOffset: \(header.lastOffset) position: \(entry.position) size: \(header.totalSize) codec: \(codec) count: \(header.recordCount) maxTimestamp: \(header.maxTimestamp) crcValid: \(entry.crcValid)\n"
                )
            }
            guard records, entry.crcValid else { continue }
            let timestampType = header.isLogAppendTime ? "LogAppendTime" : "CreateTime"
            do {
                try decoder.forEachRecord(in: batch, includingControl: true) { record in
                    let key = record.key
                    let control = header.isControl ? ControlRecord(key: key) ?? .unknown(-1) : nil
                    if json {
                        Output.write(
                            RecordJSON.line(
                                .init(
                                    file: path, offset: record.offset, timestamp: record.timestamp,
                                    timestampType: timestampType, key: key, value: record.value,
                                    headers: record.headers, control: control), binary: binary))
                    } else {
                        let headers = record.headers.map { "\($0.key)=\(JSONText.bytes($0.value).value)" }.joined(separator: ",")
                        Output.write(
                            "| offset: \(record.offset) \(timestampType): \(record.timestamp)"
                                + (control.map { " control: \($0)" } ?? "")
                                + " key: \(JSONText.bytes(key).value) value: \(JSONText.bytes(record.value).value) headers: [\(headers)]\n")
                    }
                }
            } catch {
                damaged = true
                Output.write(
                    json
                        ? "{\"file\":\(JSONText.string(path)),\"position\":\(entry.position),\"error\":\(JSONText.string("\(error)"))}\n"
                        : "| error: \(error)\n")
            }
        }
        return damaged
    }

    /// A message of Kafka's legacy formats (magic 0 or 1): shown as a record when plain; a
    /// compressed wrapper is followed by the messages it holds (or a note of why they cannot be read).
    private func dumpLegacy(_ message: SegmentFileInspector.LegacyMessage, path: String, position: Int) {
        dumpLegacyLine(message, path: path, position: position)
        guard message.codec != 0, records else { return }
        do {
            for inner in try SegmentFileInspector.innerMessages(of: message) {
                dumpLegacyLine(inner, path: path, position: position)
            }
        } catch {
            Output.write(
                json
                    ? "{\"file\":\(JSONText.string(path)),\"position\":\(position),\"note\":\(JSONText.string("the compressed legacy message set does not decode: \(error)"))}\n"
                    : "| the compressed legacy message set does not decode: \(error)\n")
        }
    }

    private func dumpLegacyLine(_ message: SegmentFileInspector.LegacyMessage, path: String, position: Int) {
        let codec = CompressionCodec(rawValue: message.codec)?.description ?? "unknown(\(message.codec))"
        let type = message.isLogAppendTime ? "LogAppendTime" : "CreateTime"
        if json {
            var line =
                "{\"file\":\(JSONText.string(path)),\"position\":\(position),\"legacyMagic\":\(message.magic),\"offset\":\(message.offset)"
            if let timestamp = message.timestamp { line += ",\"timestamp\":\(timestamp),\"timestampType\":\"\(type)\"" }
            line += ",\"codec\":\"\(codec)\",\"crcValid\":\(message.crcValid)"
            if message.codec != 0 {
                line += ",\"note\":\"a compressed legacy message set\"}\n"
            } else {
                line +=
                    "," + RecordJSON.bytesField("key", message.key, binary: binary) + ","
                    + RecordJSON.bytesField("value", message.value, binary: binary) + "}\n"
            }
            Output.write(line)
        } else {
            var line = "legacy message (magic \(message.magic)) offset: \(message.offset) position: \(position)"
            if let timestamp = message.timestamp { line += " \(type): \(timestamp)" }
            line += " codec: \(codec) crcValid: \(message.crcValid)"
            if message.codec != 0 {
                line += " (a compressed legacy message set\(records ? ", its messages follow" : ""))"
            } else if records {
                line += " key: \(JSONText.bytes(message.key).value) value: \(JSONText.bytes(message.value).value)"
            }
            Output.write(line + "\n")
        }
    }
}
