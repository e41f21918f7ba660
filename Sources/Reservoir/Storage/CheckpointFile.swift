/// A checkpoint file in Kafka's text format: `0\n<count>\n` then `<topic> <partition> <offset>` lines.
///
/// Written atomically (temporary file, fsync, rename, fsync of the directory). A file that is
/// missing or does not parse reads as nil: nothing is known, and recovery assumes nothing (it scans
/// everything and cuts no segment but the last one's tail).
struct CheckpointFile {
    struct Entry: Hashable {
        var topic: String
        var partition: Int
        var offset: Int64
    }

    let path: String

    func write(_ entries: [Entry]) throws(ReservoirError) {
        var text = "0\n\(entries.count)\n"
        for entry in entries { text += "\(entry.topic) \(entry.partition) \(entry.offset)\n" }
        try FileSystem.writeAtomically(Array(text.utf8), to: path)
    }

    /// The offsets by partition, or nil when the file is missing, unreadable or malformed.
    func readOffsets() -> [TopicPartition: Int64]? {
        read().map { entries in
            Dictionary(entries.map { (TopicPartition($0.topic, $0.partition), $0.offset) }, uniquingKeysWith: { $1 })
        }
    }

    /// Writes `offsets`, sorted by partition.
    func write(_ offsets: [TopicPartition: Int64]) throws(ReservoirError) {
        try write(offsets.sorted { $0.key < $1.key }.map { Entry(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) })
    }

    /// The entries, or nil when the file is missing, unreadable or malformed.
    func read() -> [Entry]? {
        guard FileSystem.exists(path), let bytes = try? FileHandle.open(path, writable: false).readAll() else { return nil }
        return Self.parse(bytes)
    }

    /// The entries of a checkpoint's bytes, or nil when they are malformed.
    static func parse(_ bytes: [UInt8]) -> [Entry]? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), count >= 0, count <= lines.count - 2 else { return nil }
        var entries: [Entry] = []
        for line in lines[2..<(2 + count)] {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let partition = Int(fields[1]), let offset = Int64(fields[2]), offset >= 0 else { return nil }
            entries.append(Entry(topic: String(fields[0]), partition: partition, offset: offset))
        }
        return entries
    }
}
