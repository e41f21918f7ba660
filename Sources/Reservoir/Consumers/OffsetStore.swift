import Synchronization

/// Committed offsets of every consumer group, kept in memory and stored in the internal
/// compacted topic `__consumer_offsets`, whose records are Kafka's own: key `OffsetCommitKey` v1
/// (int16 version, group, topic, int32 partition), value `OffsetCommitValue` v3 (int16 version,
/// int64 offset, int32 leader epoch -1, metadata, int64 commit time); a deleted group leaves
/// tombstones. Compaction keeps the topic at one record per group and partition.
final class OffsetStore: Sendable {
    static let maxMetadataBytes = 4096

    struct Key: Hashable, Sendable {
        var group: String
        var partition: TopicPartition
    }

    let table = CompactedTable<OffsetStore>()

    func load(from log: PartitionLog) throws(ReservoirError) { try table.load(from: log) }

    func committed(group: String, partition: TopicPartition) -> CommittedOffset? {
        table[Key(group: group, partition: partition)]
    }

    /// Every group with a committed offset.
    var groups: Set<String> { table.keys(\.group) }

    /// The committed offsets of `group`.
    func offsets(of group: String) -> [TopicPartition: CommittedOffset] {
        var result: [TopicPartition: CommittedOffset] = [:]
        for (key, value) in table.entries(where: { $0.group == group }) { result[key.partition] = value }
        return result
    }

    /// The records that commit `commits` for `group` (to append to the topic).
    static func records(group: String, commits: [TopicPartition: CommittedOffset]) -> [Record] {
        CompactedTable<OffsetStore>.records(changes(group: group, commits: commits))
    }

    /// Tombstones that delete every commit of `group`.
    func tombstones(group: String) -> [Record] {
        CompactedTable<OffsetStore>.records(offsets(of: group).keys.sorted().map { (Key(group: group, partition: $0), nil) })
    }

    /// Applies commits after they were appended.
    func apply(group: String, commits: [TopicPartition: CommittedOffset]) {
        table.apply(Self.changes(group: group, commits: commits))
    }

    func remove(group: String) {
        table.apply(offsets(of: group).keys.map { (Key(group: group, partition: $0), nil) })
    }

    private static func changes(group: String, commits: [TopicPartition: CommittedOffset]) -> [(key: Key, value: CommittedOffset?)] {
        commits.sorted { $0.key < $1.key }.map { (Key(group: group, partition: $0.key), $0.value) }
    }

    // MARK: Kafka's record layout

    static func encodeKey(group: String, partition: TopicPartition) -> [UInt8] {
        InternalTopicRecords.groupKey(version: 1, group: group, partition: partition)
    }
}

extension OffsetStore: CompactedTableCodec {
    static let topic = "__consumer_offsets"

    /// The internal topic's configuration: compacted, small segments so that compaction and
    /// loading stay quick, flushed every second (explicit commits are fsync'd at once).
    static var topicConfig: TopicConfig {
        TopicConfig(
            partitions: 1, segmentBytes: 1 << 20, flushPolicy: .everyMilliseconds(1000), cleanup: .compact,
            minCleanableDirtyRatio: 0.5)
    }

    static func encode(key: Key) -> [UInt8] { encodeKey(group: key.group, partition: key.partition) }

    static func encode(value committed: CommittedOffset) -> [UInt8] {
        var writer = BigEndianWriter()
        writer.append(Int16(3))
        writer.append(committed.offset)
        writer.append(Int32(-1))
        writer.append(string: committed.metadata)
        writer.append(committed.commitTimestamp)
        return writer.bytes
    }

    static func decode(key bytes: [UInt8]) -> Key? {
        InternalTopicRecords.parseGroupKey(bytes, versions: 0...1).map { Key(group: $0.group, partition: $0.partition) }
    }

    static func decode(value bytes: [UInt8]) -> CommittedOffset? {
        var reader = BigEndianReader(bytes)
        guard let version = reader.int16(), (0...4).contains(version), let offset = reader.int64() else { return nil }
        if version >= 3 { guard reader.int32() != nil else { return nil } }
        // An offset no log can reach is damage: the key keeps its earlier value, if any (see
        // CompactedTable.load), else the group starts at its reset position.
        guard offset >= 0, offset <= Int64.max / 2, let metadata = reader.string(), let time = reader.int64() else { return nil }
        return CommittedOffset(offset: offset, metadata: metadata, commitTimestamp: time)
    }
}
