import Synchronization

/// The durable state of work queues: per group and partition, the start offset below which
/// every record is done, and the state and delivery count of the records above it that are
/// done or were delivered. Stored as one snapshot record per group and partition in the
/// internal compacted topic `__queue_state` (the layout of Kafka's share-group `StateBatches`:
/// runs of first offset, last offset, state, delivery count), written on every change.
final class QueueStateStore: Sendable {

    struct Key: Hashable, Sendable {
        var group: String
        var partition: TopicPartition
    }

    /// A run of records in one state.
    struct Run: Hashable, Sendable {
        var first: Int64
        var last: Int64
        var state: RecordState
        var deliveries: Int
    }

    enum RecordState: Int8, Sendable {
        case available = 0
        case acknowledged = 2
        case archived = 4
    }

    struct Snapshot: Hashable, Sendable {
        var start: Int64
        var runs: [Run]
        /// Totals since the queue began.
        var acknowledged: Int64 = 0
        var archived: Int64 = 0
        var deadLettered: Int64 = 0
    }

    let table = CompactedTable<QueueStateStore>()

    func load(from log: PartitionLog) throws(ReservoirError) { try table.load(from: log) }

    func snapshot(group: String, partition: TopicPartition) -> Snapshot? {
        table[Key(group: group, partition: partition)]
    }

    func remember(_ snapshot: Snapshot, group: String, partition: TopicPartition) {
        table.set(Key(group: group, partition: partition), snapshot)
    }

    var groups: Set<String> { table.keys(\.group) }

    func snapshots(of group: String) -> [Snapshot] {
        Array(table.entries { $0.group == group }.values)
    }

    static func encodeKey(group: String, partition: TopicPartition) -> [UInt8] {
        InternalTopicRecords.groupKey(version: 0, group: group, partition: partition)
    }
}

extension QueueStateStore: CompactedTableCodec {
    typealias Value = Snapshot

    static let topic = "__queue_state"

    static var topicConfig: TopicConfig {
        TopicConfig(partitions: 1, segmentBytes: 1 << 20, flushPolicy: .everyMilliseconds(1000), cleanup: .compact)
    }

    static func encode(key: Key) -> [UInt8] { encodeKey(group: key.group, partition: key.partition) }

    static func encode(value snapshot: Snapshot) -> [UInt8] { encode(snapshot) }

    static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var writer = BigEndianWriter()
        writer.append(Int16(0))
        writer.append(snapshot.start)
        writer.append(snapshot.acknowledged)
        writer.append(snapshot.archived)
        writer.append(snapshot.deadLettered)
        writer.append(Int32(snapshot.runs.count))
        for run in snapshot.runs {
            writer.append(run.first)
            writer.append(run.last)
            writer.append(run.state.rawValue)
            writer.append(Int16(clamping: run.deliveries))
        }
        return writer.bytes
    }

    /// Offsets and counts a real queue can reach; anything else is damage, and a snapshot holding
    /// it is ignored (its group starts over) rather than trusted into arithmetic that overflows.
    private static func plausible(_ value: Int64) -> Bool { value >= 0 && value <= Int64.max / 4 }

    static func decode(key bytes: [UInt8]) -> Key? {
        InternalTopicRecords.parseGroupKey(bytes, versions: 0...0).map { Key(group: $0.group, partition: $0.partition) }
    }

    static func decode(value bytes: [UInt8]) -> Snapshot? {
        var reader = BigEndianReader(bytes)
        guard reader.int16() == 0, let start = reader.int64(), let acknowledged = reader.int64(), let archived = reader.int64(),
            let deadLettered = reader.int64(), let count = reader.int32(), count >= 0, Int(count) <= bytes.count / 19,
            [start, acknowledged, archived, deadLettered].allSatisfy(Self.plausible)
        else { return nil }
        var runs: [Run] = []
        for _ in 0..<count {
            guard let first = reader.int64(), let last = reader.int64(), let raw = reader.int8(), let state = RecordState(rawValue: raw),
                let deliveries = reader.int16(), first <= last, Self.plausible(first), Self.plausible(last), deliveries >= 0
            else { return nil }
            runs.append(Run(first: first, last: last, state: state, deliveries: Int(deliveries)))
        }
        return Snapshot(start: start, runs: runs, acknowledged: acknowledged, archived: archived, deadLettered: deadLettered)
    }
}
