/// Reading and writing the records of the store's internal topics (`__consumer_offsets`,
/// `__queue_state`): big-endian fields in Kafka's style, read back in offset order at open.
enum InternalTopicRecords {
    /// Calls `body` with the key and value (nil for a tombstone) of every keyed record of `log`,
    /// in offset order.
    static func forEach(in log: PartitionLog, topic: String, _ body: ([UInt8], [UInt8]?) -> Void) throws(ReservoirError) {
        var offset = log.startOffset
        let decoder = RecordDecoder()
        while offset < log.endOffset {
            let result = try log.read(from: offset, maxBytes: 4 << 20)
            if result.isEmpty { break }
            for batch in result.batches {
                do {
                    try decoder.forEachRecord(in: batch) { record in
                        guard record.offset >= offset, let key = record.key else { return }
                        body(key, record.value)
                    }
                } catch {
                    throw ReservoirError(.corruptData, "\(topic) at offset \(batch.baseOffset): \(error)")
                }
            }
            offset = result.nextOffset
        }
    }
}

extension InternalTopicRecords {
    /// The key of both internal topics: int16 version, group, topic, int32 partition (Kafka's
    /// `OffsetCommitKey` layout).
    static func groupKey(version: Int16, group: String, partition: TopicPartition) -> [UInt8] {
        var writer = BigEndianWriter()
        writer.append(version)
        writer.append(string: group)
        writer.append(string: partition.topic)
        writer.append(Int32(partition.partition))
        return writer.bytes
    }

    /// The group and partition of a key written by ``groupKey(version:group:partition:)`` with
    /// one of `versions`, or nil.
    static func parseGroupKey(_ bytes: [UInt8], versions: ClosedRange<Int16>) -> (group: String, partition: TopicPartition)? {
        var reader = BigEndianReader(bytes)
        guard let version = reader.int16(), versions.contains(version), let group = reader.string(), let topic = reader.string(),
            let partition = reader.int32()
        else { return nil }
        return (group, TopicPartition(topic, Int(partition)))
    }
}

/// Writes big-endian fields and int16-length strings.
struct BigEndianWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        let utf8 = Array(string.utf8.prefix(Int(Int16.max)))
        append(Int16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads big-endian fields from bytes, nil when they run out (no traps on malformed input).
struct BigEndianReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - position >= size else { return nil }
        var value: T = 0
        for index in position..<(position + size) { value = (value << 8) | T(truncatingIfNeeded: bytes[index]) }
        position += size
        return value
    }

    mutating func int8() -> Int8? { integer(Int8.self) }
    mutating func int16() -> Int16? { integer(Int16.self) }
    mutating func int32() -> Int32? { integer(Int32.self) }
    mutating func int64() -> Int64? { integer(Int64.self) }

    mutating func string() -> String? {
        guard let length = int16(), length >= 0, bytes.count - position >= Int(length) else { return nil }
        defer { position += Int(length) }
        return String(decoding: bytes[position..<(position + Int(length))], as: UTF8.self)
    }
}
