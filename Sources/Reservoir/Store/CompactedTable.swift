import Logging
import Synchronization

/// How the records of a compacted internal topic encode a table's keys and values.
protocol CompactedTableCodec {
    associatedtype Key: Hashable & Sendable
    associatedtype Value: Sendable
    /// The internal topic that stores the table.
    static var topic: String { get }
    /// The topic's settings (compacted).
    static var topicConfig: TopicConfig { get }
    static func encode(key: Key) -> [UInt8]
    static func encode(value: Value) -> [UInt8]
    /// Nil for a key this table does not hold (another record layout): skipped.
    static func decode(key: [UInt8]) -> Key?
    /// Nil for a value that does not decode to one a live table could hold.
    static func decode(value: [UInt8]) -> Value?
}

/// A compacted topic read as a key-value table: the latest record of each key is its value, a
/// tombstone deletes it. Loaded from the topic's partition 0 when the store opens, kept in
/// memory, and changed by appending records first (``records(_:)``) and applying them once they
/// are written (``apply(_:)``). The store's committed offsets and work-queue state are two.
final class CompactedTable<Codec: CompactedTableCodec>: Sendable {
    typealias Key = Codec.Key
    typealias Value = Codec.Value

    private let entries = Mutex<[Key: Value]>([:])

    /// Replaces the table with the contents of `log`, read in offset order.
    ///
    /// A value that does not decode (a layout this version does not read, or a value no live
    /// table could hold) is not taken for a deletion: its key keeps the value before it, which is
    /// what was last known for sure (for committed offsets, records read again rather than
    /// skipped), and the record is logged as an error. The record stays in the topic.
    func load(from log: PartitionLog) throws(ReservoirError) {
        var loaded: [Key: Value] = [:]
        var offset = log.startOffset
        let decoder = RecordDecoder()
        while offset < log.endOffset {
            let result = try log.read(from: offset, maxBytes: 4 << 20)
            if result.isEmpty { break }
            for batch in result.batches {
                do {
                    try decoder.forEachRecord(in: batch) { record in
                        guard record.offset >= offset, let bytes = record.key, let key = Codec.decode(key: bytes) else { return }
                        guard let value = record.value else {
                            loaded[key] = nil
                            return
                        }
                        if let decoded = Codec.decode(value: value) {
                            loaded[key] = decoded
                        } else {
                            log.logger.error(
                                "a value that does not decode; its key keeps the value it had before",
                                metadata: [
                                    "topic": "\(Codec.topic)", "offset": "\(record.offset)", "key": "\(key)",
                                    "kept": "\(loaded[key].map { "\($0)" } ?? "none")",
                                ])
                        }
                    }
                } catch {
                    throw ReservoirError(.corruptData, "\(Codec.topic) at offset \(batch.baseOffset): \(error)")
                }
            }
            offset = result.nextOffset
        }
        entries.withLock { $0 = loaded }
    }

    /// Whether a record of the topic replaces its key's earlier records when the topic is
    /// compacted: not when its key is the table's and its value does not decode, so that
    /// compaction keeps the value ``load(from:)`` keeps.
    @Sendable
    static func supersedes(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?) -> Bool {
        guard let value, Codec.decode(key: Array(key)) != nil else { return true }
        return Codec.decode(value: Array(value)) != nil
    }

    subscript(key: Key) -> Value? { entries.withLock { $0[key] } }

    /// The entries whose key passes `isIncluded`.
    func entries(where isIncluded: (Key) -> Bool) -> [Key: Value] {
        entries.withLock { $0.filter { isIncluded($0.key) } }
    }

    /// Every key, mapped by `transform`.
    func keys<T: Hashable & Sendable>(_ transform: (Key) -> T) -> Set<T> {
        entries.withLock { Set($0.keys.map(transform)) }
    }

    /// The records that make `changes` (a nil value deletes its key), to append to the topic.
    static func records(_ changes: [(key: Key, value: Value?)]) -> [Record] {
        changes.map { Record(key: Codec.encode(key: $0.key), value: $0.value.map(Codec.encode(value:))) }
    }

    /// Sets one key (nil deletes it) once its record is written.
    func set(_ key: Key, _ value: Value?) {
        entries.withLock { $0[key] = value }
    }

    /// Applies `changes` once their records are written.
    func apply(_ changes: [(key: Key, value: Value?)]) {
        entries.withLock { entries in
            for (key, value) in changes { entries[key] = value }
        }
    }
}
