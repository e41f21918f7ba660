import Synchronization

/// A topic: its configuration, its partition logs, and the means to append to them.
public final class Topic: Sendable {
    /// The topic's name.
    public let name: String
    /// The topic's configuration, as persisted.
    public let config: TopicConfig
    let directory: String
    let partitions: [PartitionLog]
    let accumulators: [RecordAccumulator]
    /// Encoders are not thread-safe; appends borrow one each from this pool.
    private let encoders: Mutex<[EncoderBox]>
    private let nextPartition = Atomic<Int>(0)

    init(name: String, config: TopicConfig, directory: String, partitions: [PartitionLog], ioThread: IOThread, lingerMilliseconds: Int) {
        self.name = name
        self.config = config
        self.directory = directory
        self.partitions = partitions
        encoders = Mutex([])
        let compression = config.compression
        let level = config.compressionLevel
        accumulators = partitions.map { log in
            RecordAccumulator(log: log, ioThread: ioThread, batchBytes: min(config.maxBatchBytes, 1 << 20),
                              lingerMilliseconds: lingerMilliseconds) { () throws(ReservoirError) in
                let encoder = try RecordBatchEncoder(compression: compression, compressionLevel: level)
                encoder.maxRecordBytes = config.maxRecordBytes
                return encoder
            }
        }
    }

    func borrowEncoder() throws(ReservoirError) -> RecordBatchEncoder {
        if let box = encoders.withLock({ $0.popLast() }) { return box.encoder }
        let encoder = try RecordBatchEncoder(compression: config.compression, compressionLevel: config.compressionLevel)
        encoder.maxRecordBytes = config.maxRecordBytes
        return encoder
    }

    /// Refuses an encoded batch over the batch limit (before it is written).
    func checkBatch(_ summary: RecordBatchEncoder.Summary) throws(ReservoirError) {
        guard summary.byteCount <= config.maxBatchBytes else {
            throw ReservoirError(.recordTooLarge, "batch of \(summary.byteCount) bytes exceeds the limit of \(config.maxBatchBytes) bytes of topic \(name); nothing was written: append fewer records at a time")
        }
    }

    func returnEncoder(_ encoder: RecordBatchEncoder) {
        let box = EncoderBox(encoder)
        encoders.withLock { if $0.count < 16 { $0.append(box) } }
    }

    /// The partition for a record: Kafka's murmur2 for keyed records, `unkeyed` for the others.
    func partition(for key: [UInt8]?, unkeyed: Int) -> Int {
        guard let key else { return unkeyed }
        return Partitioner.partition(forKey: key, partitions: partitions.count)
    }

    /// The next partition for unkeyed records (round robin per append call).
    func nextUnkeyedPartition() -> Int {
        nextPartition.wrappingAdd(1, ordering: .relaxed).oldValue % partitions.count
    }

    func log(_ partition: Int) throws(ReservoirError) -> PartitionLog {
        guard partition >= 0, partition < partitions.count else {
            throw ReservoirError(.partitionNotFound, "topic \(name) has partitions 0..<\(partitions.count), not \(partition)")
        }
        return partitions[partition]
    }

    /// Whether the topic is compacted by key, so that every record needs a key.
    var isCompacted: Bool { config.cleanup.contains(.compact) }

    func unkeyedRecordError(index: Int?) -> ReservoirError {
        let which = index.map { "record \($0) has no key" } ?? "a record has no key"
        return ReservoirError(.invalidArgument, "\(which), but topic \(name) is compacted by key (cleanup \(config.cleanup)): every record needs a key; nothing was written")
    }

    /// Checks every record against the size limits before anything is written.
    func checkSizes(_ records: some Collection<Record>) throws(ReservoirError) -> Int {
        var total = RecordBatchHeader.size
        for record in records {
            let size = RecordWriter.encodedSize(of: record, timestampDelta: 0, offsetDelta: 0).total
            guard size <= config.maxRecordBytes else {
                throw ReservoirError(.recordTooLarge, "record of \(size) bytes exceeds the limit of \(config.maxRecordBytes) bytes of topic \(name); nothing was written")
            }
            // Sized with zero deltas; the real timestamp and offset deltas take up to 14 bytes more.
            total += size + 14
        }
        guard total <= config.maxBatchBytes else {
            throw ReservoirError(.recordTooLarge, "batch of about \(total) bytes exceeds the limit of \(config.maxBatchBytes) bytes of topic \(name); nothing was written: append fewer records at a time")
        }
        return total
    }
}
