extension Reservoir {
    /// Where an appended record went.
    public struct AppendReceipt: Sendable, Hashable {
        /// The partition the record went to.
        public var partition: Int
        /// The record's offset in that partition.
        public var offset: Int64
    }

    /// The offsets one append wrote to one partition.
    public struct AppendedRange: Sendable, Hashable {
        /// The partition written.
        public var partition: Int
        /// The first and last offset the records got.
        public var offsets: ClosedRange<Int64>
    }

    // MARK: Records

    /// Appends `records` to `topic` and returns the offsets per partition.
    ///
    /// Keyed records go to their key's partition (as Kafka's default partitioner), unkeyed ones
    /// together to one partition chosen round robin, unless `partition` is given. Every batch is
    /// encoded and checked against the topic's limits before any is written.
    @discardableResult
    public func append(to topic: String, records: [Record], partition: Int? = nil, acks: Acks = .durable) throws(ReservoirError)
        -> [AppendedRange]
    {
        try appendRecords(to: topic, records: records, partition: partition, acks: acks, caller: .user)
    }

    /// As ``append(to:records:partition:acks:)``, suspending instead of blocking for the fsync.
    @discardableResult
    public func append(to topic: String, records: [Record], partition: Int? = nil, acks: Acks = .durable) async throws -> [AppendedRange] {
        try await appendRecords(to: topic, records: records, partition: partition, acks: acks, caller: .user)
    }

    /// The records append for any caller (the store's own topics included).
    @discardableResult
    func appendRecords(to topic: String, records: [Record], partition: Int?, acks: Acks, caller: AppendPipeline.Caller)
        throws(ReservoirError) -> [AppendedRange]
    {
        let written = try writeRecords(to: topic, records: records, partition: partition, caller: caller)
        for (log, range) in written { try log.acknowledge(range.offsets, acks: acks) }
        return written.map(\.range)
    }

    /// As the synchronous form, suspending for the fsync.
    @discardableResult
    func appendRecords(to topic: String, records: [Record], partition: Int?, acks: Acks, caller: AppendPipeline.Caller) async throws
        -> [AppendedRange]
    {
        let written = try writeRecords(to: topic, records: records, partition: partition, caller: caller)
        for (log, range) in written { try await log.acknowledge(range.offsets, acks: acks) }
        return written.map(\.range)
    }

    /// The pipeline's stages up to the write: check, route, encode every batch (each with an
    /// encoder of its own) and check its limits, then append them all; a refused batch leaves
    /// every partition untouched.
    private func writeRecords(to name: String, records: [Record], partition: Int?, caller: AppendPipeline.Caller) throws(ReservoirError)
        -> [(log: PartitionLog, range: AppendedRange)]
    {
        let pipeline = try AppendPipeline(self, topic: name, caller: caller)
        let topic = pipeline.topic
        let groups = try pipeline.route(records, partition: partition)
        if groups.count == 1 {
            // The common case, without the bookkeeping of several batches.
            let encoder = try topic.borrowEncoder()
            defer { topic.returnEncoder(encoder) }
            let target = groups[0].partition
            let (log, offsets) = try pipeline.append(pipeline.encode(groups[0].records, with: encoder), to: target)
            return [(log, AppendedRange(partition: target, offsets: offsets))]
        }
        var encoders: [RecordBatchEncoder] = []
        defer { for encoder in encoders { topic.returnEncoder(encoder) } }
        var batches: [(Int, EncodedBatch)] = []
        for (target, group) in groups {
            let encoder = try topic.borrowEncoder()
            encoders.append(encoder)
            batches.append((target, try pipeline.encode(group, with: encoder)))
        }
        var written: [(log: PartitionLog, range: AppendedRange)] = []
        for (target, batch) in batches {
            let (log, offsets) = try pipeline.append(batch, to: target)
            written.append((log, AppendedRange(partition: target, offsets: offsets)))
        }
        return written
    }

    // MARK: Builders

    /// A builder with the topic's compression, for `append(to:batch:partition:acks:)`.
    public func makeBatchBuilder(for topic: String) throws(ReservoirError) -> RecordBatchBuilder {
        let config = try self.topic(topic).config
        return try RecordBatchBuilder(compression: config.compression, compressionLevel: config.compressionLevel)
    }

    /// Appends the records of `batch` to one partition (`partition`, or round robin when nil),
    /// then empties the builder. The fastest way to append: see ``RecordBatchBuilder``.
    ///
    /// - Throws: ``ReservoirError/Code/recordTooLarge`` when a record or the batch exceeds the
    ///   topic's limits (nothing is written, the builder keeps its records).
    @discardableResult
    public func append(to topic: String, batch: RecordBatchBuilder, partition: Int? = nil, acks: Acks = .durable) throws(ReservoirError)
        -> AppendedRange
    {
        let (log, range) = try write(batch, to: topic, partition: partition)
        try log.acknowledge(range.offsets, acks: acks)
        return range
    }

    /// As `append(to:batch:partition:acks:)`, suspending instead of blocking for the fsync.
    @discardableResult
    public func append(to topic: String, batch: RecordBatchBuilder, partition: Int? = nil, acks: Acks = .durable) async throws
        -> AppendedRange
    {
        let (log, range) = try write(batch, to: topic, partition: partition)
        try await log.acknowledge(range.offsets, acks: acks)
        return range
    }

    private func write(_ batch: RecordBatchBuilder, to name: String, partition: Int?) throws(ReservoirError) -> (
        PartitionLog, AppendedRange
    ) {
        let pipeline = try AppendPipeline(self, topic: name)
        let target = try pipeline.route(batch, partition: partition)
        let (log, offsets) = try pipeline.append(pipeline.seal(batch.records), to: target)
        batch.reset()
        return (log, AppendedRange(partition: target, offsets: offsets))
    }

    // MARK: Single records

    /// Appends one record through its partition's accumulator, which batches it with concurrent
    /// appends; returns once it is acknowledged as `acks` asks.
    public func append(
        to topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], partition: Int? = nil, acks: Acks = .durable
    ) async throws -> AppendReceipt {
        let pipeline = try AppendPipeline(self, topic: topic)
        let target = try pipeline.route(key: key, partition: partition)
        let accumulator = pipeline.topic.accumulators[target]
        let offset = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int64, any Error>) in
            accumulator.add(Record(key: key, value: value, headers: headers), acks: acks) { continuation.resume(with: $0) }
        }
        return AppendReceipt(partition: target, offset: offset)
    }

    /// Appends one record with UTF-8 key and value; a nil value is a tombstone (on a compacted
    /// topic, it deletes the key).
    @discardableResult
    public func append(
        to topic: String, key: String?, value: String?, headers: [RecordHeader] = [], partition: Int? = nil, acks: Acks = .durable
    ) async throws -> AppendReceipt {
        try await append(
            to: topic, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers, partition: partition,
            acks: acks)
    }
}

extension Reservoir {
    // MARK: Encoded batches

    /// What ``appendEncodedBatches(to:partition:bytes:)`` wrote, to acknowledge as a client asked.
    public struct WrittenBatches: Sendable {
        /// The offsets of the first and last record written.
        public let offsets: ClosedRange<Int64>
        let log: PartitionLog

        /// Returns once the batches are acknowledged as `acks` asks (at once for `.buffered`,
        /// after the group commit's fsync for `.durable`), suspending, never blocking.
        public func acknowledged(_ acks: Acks) async throws {
            try await log.acknowledge(offsets, acks: acks)
        }
    }

    /// A new idempotent producer id, never given before by this store (Kafka's InitProducerId).
    /// Batches of a producer id are checked per partition: a retry of one of its last five
    /// batches is answered with the original offsets and not written again, a gap in its
    /// sequences is refused (``ReservoirError/Code/outOfOrderSequence``), and so is an older epoch
    /// (``ReservoirError/Code/producerFenced``).
    ///
    /// - Throws: ``ReservoirError/Code/io`` when the reservation cannot be made durable,
    ///   ``ReservoirError/Code/corruptData`` when the stored reservation cannot be read.
    public func newProducerId() throws(ReservoirError) -> Int64 {
        try checkNotReadOnly()
        try checkOpen()
        return try producerIds.next()
    }

    /// Appends record batches a Kafka client encoded (a produce request's records for one
    /// partition), as they are: every batch is validated first (framing, magic 2, CRC, every record,
    /// keys on a compacted topic, the topic's limits) and nothing is written unless all pass; then
    /// the store assigns their offsets and writes them with their compression unchanged. The bytes
    /// are read only during the call; acknowledge the result with ``WrittenBatches/acknowledged(_:)``.
    ///
    /// - Throws: ``ReservoirError/Code/corruptData`` for bytes that are not valid batches,
    ///   ``ReservoirError/Code/recordTooLarge`` over a limit, or what the topic refuses.
    public func appendEncodedBatches(to topic: String, partition: Int, bytes: UnsafeRawBufferPointer) throws(ReservoirError)
        -> WrittenBatches
    {
        let (log, offsets) = try writeEncodedBatches(to: topic, partition: partition, bytes: bytes)
        return WrittenBatches(offsets: offsets, log: log)
    }

    private func writeEncodedBatches(to name: String, partition: Int, bytes: UnsafeRawBufferPointer) throws(ReservoirError)
        -> (PartitionLog, ClosedRange<Int64>)
    {
        let pipeline = try AppendPipeline(self, topic: name)
        let target = try pipeline.route(partition)
        var batches: [EncodedBatch] = []
        var scanner = BatchScanner(bytes)
        while let entry = scanner.next() {
            batches.append(try pipeline.validate(clientBatch: UnsafeRawBufferPointer(rebasing: bytes[entry.range])))
        }
        if let failure = scanner.failure {
            throw failure.reservoirError(context: "a client's batch for \(name)-\(partition) at byte \(scanner.position)")
        }
        guard !batches.isEmpty else { throw ReservoirError(.invalidArgument, "no record batch for \(name)-\(partition)") }
        var first: Int64?
        var last: Int64 = 0
        var log: PartitionLog?
        for batch in batches {
            let written = try pipeline.append(batch, to: target)
            first = first ?? written.offsets.lowerBound
            last = written.offsets.upperBound
            log = written.log
        }
        guard let log, let first else { throw ReservoirError(.invalidArgument, "no record batch for \(name)-\(partition)") }
        return (log, first...last)
    }
}
