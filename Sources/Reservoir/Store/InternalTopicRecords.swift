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
