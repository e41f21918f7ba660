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
    /// The size rules of the append pipeline.
    let limits: AppendPipeline.Limits
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
        let limits = AppendPipeline.Limits(topic: name, maxRecordBytes: config.maxRecordBytes, maxBatchBytes: config.maxBatchBytes)
        self.limits = limits
        accumulators = partitions.map { log in
            RecordAccumulator(
                log: log, limits: limits, ioThread: ioThread, batchBytes: min(config.maxBatchBytes, 1 << 20),
                lingerMilliseconds: lingerMilliseconds
            ) { () throws(ReservoirError) in
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
        return ReservoirError(
            .invalidArgument,
            "\(which), but topic \(name) is compacted by key (cleanup \(config.cleanup)): every record needs a key; nothing was written")
    }
}
