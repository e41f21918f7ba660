import Synchronization

/// Committed offsets of every consumer group, kept in memory and stored in the internal
/// compacted topic `__consumer_offsets`, whose records are Kafka's own: key `OffsetCommitKey` v1
/// (int16 version, group, topic, int32 partition), value `OffsetCommitValue` v3 (int16 version,
/// int64 offset, int32 leader epoch -1, metadata, int64 commit time); a deleted group leaves
/// tombstones. Compaction keeps the topic at one record per group and partition.
final class OffsetStore: Sendable {
    static let topic = "__consumer_offsets"
    static let maxMetadataBytes = 4096

    struct Key: Hashable {
        var group: String
        var partition: TopicPartition
    }

    private let offsets = Mutex<[Key: CommittedOffset]>([:])

    /// The internal topic's configuration: compacted, small segments so that compaction and
    /// loading stay quick, flushed every second (explicit commits are fsync'd at once).
    static var topicConfig: TopicConfig {
        TopicConfig(partitions: 1, segmentBytes: 1 << 20, flushPolicy: .everyMilliseconds(1000), cleanup: .compact,
                    minCleanableDirtyRatio: 0.5)
    }

    /// Loads every commit from the topic's partition (later records win; tombstones delete).
    func load(from log: PartitionLog) throws(ReservoirError) {
        var loaded: [Key: CommittedOffset] = [:]
        try InternalTopicRecords.forEach(in: log, topic: Self.topic) { key, value in
            guard let key = Self.decodeKey(key) else { return }
            loaded[key] = value.flatMap(Self.decodeValue)
        }
        offsets.withLock { $0 = loaded }
    }

    func committed(group: String, partition: TopicPartition) -> CommittedOffset? {
        offsets.withLock { $0[Key(group: group, partition: partition)] }
    }

    /// Every group with a committed offset.
    var groups: Set<String> { offsets.withLock { Set($0.keys.map(\.group)) } }

    /// The committed offsets of `group`.
    func offsets(of group: String) -> [TopicPartition: CommittedOffset] {
        offsets.withLock { offsets in
            var result: [TopicPartition: CommittedOffset] = [:]
            for (key, value) in offsets where key.group == group { result[key.partition] = value }
            return result
        }
    }

    /// The records that commit `commits` for `group` (to append to the topic).
    static func records(group: String, commits: [TopicPartition: CommittedOffset]) -> [Record] {
        commits.sorted { $0.key < $1.key }.map { partition, committed in
            Record(key: encodeKey(group: group, partition: partition), value: encodeValue(committed))
        }
    }

    /// Tombstones that delete every commit of `group`.
    func tombstones(group: String) -> [Record] {
        offsets(of: group).keys.sorted().map { Record(key: Self.encodeKey(group: group, partition: $0), value: nil) }
    }

    /// Applies commits after they were appended.
    func apply(group: String, commits: [TopicPartition: CommittedOffset]) {
        offsets.withLock { offsets in
            for (partition, committed) in commits { offsets[Key(group: group, partition: partition)] = committed }
        }
    }

    func remove(group: String) {
        offsets.withLock { offsets in offsets = offsets.filter { $0.key.group != group } }
    }

    // MARK: Kafka's record layout

    static func encodeKey(group: String, partition: TopicPartition) -> [UInt8] {
        InternalTopicRecords.groupKey(version: 1, group: group, partition: partition)
    }

    static func encodeValue(_ committed: CommittedOffset) -> [UInt8] {
        var writer = BigEndianWriter()
        writer.append(Int16(3))
        writer.append(committed.offset)
        writer.append(Int32(-1))
        writer.append(string: committed.metadata)
        writer.append(committed.commitTimestamp)
        return writer.bytes
    }

    static func decodeKey(_ bytes: [UInt8]) -> Key? {
        InternalTopicRecords.parseGroupKey(bytes, versions: 0...1).map { Key(group: $0.group, partition: $0.partition) }
    }

    static func decodeValue(_ bytes: [UInt8]) -> CommittedOffset? {
        var reader = BigEndianReader(bytes)
        guard let version = reader.int16(), (0...4).contains(version), let offset = reader.int64() else { return nil }
        if version >= 3 { guard reader.int32() != nil else { return nil } }
        // An offset no log can reach is damage: the group falls back to its reset position.
        guard offset >= 0, offset <= Int64.max / 2, let metadata = reader.string(), let time = reader.int64() else { return nil }
        return CommittedOffset(offset: offset, metadata: metadata, commitTimestamp: time)
    }

}
