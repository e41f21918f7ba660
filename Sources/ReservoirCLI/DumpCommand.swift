import ArgumentParser
import Reservoir

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Print the batches of .log files and the entries of .index/.timeindex files (any Kafka segment).")

    @Argument(help: "Segment files.") var files: [String]
    @Flag(help: "Also print every record of each batch.") var records = false
    @Flag(help: "JSON lines.") var json = false

    func run() throws {
        var damaged = false
        for path in files {
            if path.hasSuffix(".log") {
                damaged = try dumpLog(path) || damaged
            } else if path.hasSuffix(".index") {
                let (entries, partial) = try SegmentFileInspector.offsetIndexEntries(path: path)
                if !json { Output.write("Dumping \(path)\n") }
                for entry in entries {
                    Output.write(json ? "{\"file\":\(JSONText.string(path)),\"offset\":\(entry.offset),\"position\":\(entry.position)}\n"
                                      : "offset: \(entry.offset) position: \(entry.position)\n")
                }
                if partial > 0 { damaged = true; Output.write(json ? "{\"file\":\(JSONText.string(path)),\"error\":\"\(partial) stray bytes\"}\n" : "error: \(partial) stray bytes after the last entry\n") }
            } else if path.hasSuffix(".timeindex") {
                let (entries, partial) = try SegmentFileInspector.timeIndexEntries(path: path)
                if !json { Output.write("Dumping \(path)\n") }
                for entry in entries {
                    Output.write(json ? "{\"file\":\(JSONText.string(path)),\"timestamp\":\(entry.timestamp),\"offset\":\(entry.offset)}\n"
                                      : "timestamp: \(entry.timestamp) offset: \(entry.offset)\n")
                }
                if partial > 0 { damaged = true; Output.write(json ? "{\"file\":\(JSONText.string(path)),\"error\":\"\(partial) stray bytes\"}\n" : "error: \(partial) stray bytes after the last entry\n") }
            } else {
                throw ValidationError("\(path): dump reads .log, .index and .timeindex files")
            }
        }
        Output.flush()
        if damaged { throw CLIFailure("damage found (see above)") }
    }

    private func dumpLog(_ path: String) throws -> Bool {
        if !json { Output.write("Dumping \(path)\n") }
        let decoder = RecordDecoder()
        var damaged = false
        for entry in try SegmentFileInspector.batches(inLogFile: path) {
            guard let header = entry.header, let batch = entry.batch else {
                damaged = true
                Output.write(json ? "{\"file\":\(JSONText.string(path)),\"position\":\(entry.position),\"error\":\(JSONText.string(entry.error ?? ""))}\n"
                                  : "position: \(entry.position) error: \(entry.error ?? "invalid batch")\n")
                break
            }
            if !entry.crcValid { damaged = true }
            let codec = header.compression?.description ?? "unknown(\(header.compressionCodecValue))"
            if json {
                Output.write("{\"file\":\(JSONText.string(path)),\"baseOffset\":\(header.baseOffset),\"lastOffset\":\(header.lastOffset),\"position\":\(entry.position),\"size\":\(header.totalSize),\"codec\":\"\(codec)\",\"count\":\(header.recordCount),\"maxTimestamp\":\(header.maxTimestamp),\"crcValid\":\(entry.crcValid)}\n")
            } else {
                Output.write("baseOffset: \(header.baseOffset) lastOffset: \(header.lastOffset) position: \(entry.position) size: \(header.totalSize) codec: \(codec) count: \(header.recordCount) maxTimestamp: \(header.maxTimestamp) crcValid: \(entry.crcValid)\n")
            }
            guard records, entry.crcValid else { continue }
            do {
                try decoder.forEachRecord(in: batch) { record in
                    let key = JSONText.bytes(record.key)
                    let value = JSONText.bytes(record.value)
                    if json {
                        Output.write("{\"offset\":\(record.offset),\"timestamp\":\(record.timestamp),\"key\":\(key.value),\"value\":\(value.value),\"headers\":\(record.headerCount)}\n")
                    } else {
                        Output.write("| offset: \(record.offset) timestamp: \(record.timestamp) key: \(key.value) value: \(value.value) headers: \(record.headerCount)\n")
                    }
                }
            } catch {
                damaged = true
                Output.write(json ? "{\"position\":\(entry.position),\"error\":\(JSONText.string("\(error)"))}\n" : "| error: \(error)\n")
            }
        }
        return damaged
    }
}
