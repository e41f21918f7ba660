/// The key layout of the store's internal topics (`__consumer_offsets`, `__queue_state`):
/// big-endian fields in Kafka's style.
enum InternalTopicRecords {
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
