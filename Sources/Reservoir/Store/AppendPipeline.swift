/// The one path every append takes, whatever the caller hands in: records, a
/// ``RecordBatchBuilder``, a ``BatchProducer``'s batch, single records gathered by the partition's
/// accumulator, or a batch a Kafka client encoded itself.
///
/// 1. **Check**: the store is open and the caller may write the topic (internal topics are the
///    store's own).
/// 2. **Route**: the partition asked for, the key's partition (Kafka's murmur2), or round robin.
/// 3. **Encode or validate**: records are encoded by an encoder of the topic's codec, which refuses
///    a record over the topic's record limit; a client's batch is checked whole.
/// 4. **Limits**: the encoded batch against the topic's batch limit, once, before anything is written.
/// 5. **Append**: ``PartitionLog/append(_:)`` assigns offsets and writes.
/// 6. **Acknowledge**: ``PartitionLog/acknowledge(_:acks:)`` (or its async and callback forms).
///
/// The record limit is the record's encoded size as its batch holds it (deltas and length
/// prefix included), exact wherever it is checked; the batch limit is the encoded batch's size.
struct AppendPipeline {
    /// Who appends, which decides the first stage's checks.
    enum Caller {
        /// An application: internal topics are refused.
        case user
        /// The store itself, on its own topics.
        case store
        /// The store, also while it closes (group members' last commits), after it stopped
        /// taking appends from applications and before its logs close.
        case storeClosing
    }

    let topic: Topic

    /// Stage 1: checks that `caller` may append to topic `name` now.
    init(_ store: Reservoir, topic name: String, caller: Caller = .user) throws(ReservoirError) {
        if caller == .user { try store.checkWritable(name) }
        if caller != .storeClosing { try store.checkOpen() }
        topic = try store.topic(name)
    }

    /// A pipeline for a topic whose first stage has passed (the partition accumulators').
    init(checked topic: Topic) {
        self.topic = topic
    }

    // MARK: Route

    /// Stage 2: `partition` when given (it must exist), else the next round-robin partition.
    func route(_ partition: Int?) throws(ReservoirError) -> Int {
        guard let partition else { return topic.nextUnkeyedPartition() }
        _ = try topic.log(partition)
        return partition
    }

    /// Stage 2 for one record: `partition` when given, else its key's partition, else round robin.
    func route(key: [UInt8]?, partition: Int?) throws(ReservoirError) -> Int {
        if topic.isCompacted && key == nil { throw topic.unkeyedRecordError(index: nil) }
        if partition != nil || key == nil { return try route(partition) }
        return topic.partition(for: key, unkeyed: 0)
    }

    /// Stage 2 for records: `partition` for all when given; otherwise keyed records to their
    /// key's partition and unkeyed ones together to one round-robin partition.
    func route(_ records: [Record], partition: Int?) throws(ReservoirError) -> [(partition: Int, records: [Record])] {
        guard !records.isEmpty else { throw ReservoirError(.invalidArgument, "append needs at least one record") }
        if topic.isCompacted, let index = records.firstIndex(where: { $0.key == nil }) {
            throw topic.unkeyedRecordError(index: index)
        }
        if partition != nil || topic.partitions.count == 1 { return [(try route(partition), records)] }
        let unkeyed = topic.nextUnkeyedPartition()
        var groups: [Int: [Record]] = [:]
        for record in records { groups[topic.partition(for: record.key, unkeyed: unkeyed), default: []].append(record) }
        return groups.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Stage 2 for a builder (all its records go to one partition), with the checks that must
    /// pass before a producer takes its records: not empty, keys on a compacted topic, and no
    /// record over the topic's limit.
    func route(_ batch: RecordBatchBuilder, partition: Int?) throws(ReservoirError) -> Int {
        guard !batch.isEmpty else { throw ReservoirError(.invalidArgument, "a batch needs at least one record") }
        let target = try route(partition)
        if topic.isCompacted && batch.unkeyedCount > 0 { throw topic.unkeyedRecordError(index: nil) }
        try topic.limits.checkRecord(bytes: batch.largestRecordBytes)
        return target
    }

    // MARK: Encode or validate, and limits

    /// Stages 3 and 4: encodes `records` with `encoder` (one of the topic's, which applies the
    /// record limit) and checks the batch limit.
    func encode(_ records: some Collection<Record>, with encoder: RecordBatchEncoder) throws(ReservoirError) -> EncodedBatch {
        try topic.limits.encode(records, with: encoder)
    }

    /// Stages 3 and 4 for a builder's records: compression, header and CRC, then the batch limit.
    func seal(_ taken: RecordBatchBuilder.TakenRecords) throws(ReservoirError) -> EncodedBatch {
        try topic.limits.check(EncodedBatch(taken.encoder, taken.finish()))
    }

    /// Stages 3 and 4 for a batch a client encoded: framing, magic and CRC, every record decodes
    /// (codec included) with offset deltas in range, keys present on a compacted topic, each
    /// record and the batch within the topic's limits.
    func validate(clientBatch bytes: UnsafeRawBufferPointer) throws(ReservoirError) -> EncodedBatch {
        let context = "a client's batch for topic \(topic.name)"
        var batch: EncodedBatch
        let header: RecordBatchHeader
        do {
            batch = try EncodedBatch(validating: bytes)
            header = try RecordBatchHeader.read(from: bytes)
        } catch {
            throw error.reservoirError(context: context)
        }
        let compacted = topic.isCompacted
        let decoder = RecordDecoder()
        var unkeyed = false
        var largest = 0
        var latest = Int64.min
        do {
            try decoder.iterate(RecordBatch(owner: nil, bytes: bytes, header: header), verifyCRC: false) { record in
                if compacted && record.keyBytes == nil { unkeyed = true }
                largest = max(largest, record.rawBytes.count)
                latest = max(latest, record.timestamp)
                return true
            }
        } catch {
            throw error.reservoirError(context: context)
        }
        if unkeyed { throw topic.unkeyedRecordError(index: nil) }
        try topic.limits.checkRecord(bytes: largest)
        // With LogAppendTime the header's timestamp is every record's, so it is right by definition.
        if !header.isLogAppendTime { batch.correctMaxTimestamp(latest) }
        return try topic.limits.check(batch)
    }

    /// A topic's size rules, as a value the partition accumulators keep.
    struct Limits: Sendable {
        let topic: String
        let maxRecordBytes: Int
        let maxBatchBytes: Int

        /// A record of `bytes` encoded bytes against the record limit.
        func checkRecord(bytes: Int) throws(ReservoirError) {
            guard bytes <= maxRecordBytes else {
                throw ReservoirError(
                    .recordTooLarge,
                    "a record of \(bytes) bytes exceeds the limit of \(maxRecordBytes) bytes of topic \(topic); nothing was written")
            }
        }

        /// The encoded batch against the batch limit.
        func check(_ batch: EncodedBatch) throws(ReservoirError) -> EncodedBatch {
            guard batch.byteCount <= maxBatchBytes else {
                throw ReservoirError(
                    .recordTooLarge,
                    "batch of \(batch.byteCount) bytes exceeds the limit of \(maxBatchBytes) bytes of topic \(topic); nothing was written: append fewer records at a time"
                )
            }
            return batch
        }

        /// Encodes `records` with one of the topic's encoders (whose record limit is this one's)
        /// and checks the batch.
        func encode(_ records: some Collection<Record>, with encoder: RecordBatchEncoder) throws(ReservoirError) -> EncodedBatch {
            let summary = try encoder.encode(records, defaultTimestamp: wallClockMilliseconds())
            return try check(EncodedBatch(encoder, summary))
        }
    }

    // MARK: Append

    /// Stage 5: writes `batch` to `partition`; acknowledge the range with the returned log.
    func append(_ batch: EncodedBatch, to partition: Int) throws(ReservoirError) -> (log: PartitionLog, offsets: ClosedRange<Int64>) {
        let log = try topic.log(partition)
        return (log, try log.append(batch))
    }
}
