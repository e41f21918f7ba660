import NIOCore
import Reservoir

/// Sends a store's topics to a Kafka-compatible cluster as they are stored: each batch goes out
/// in a Produce request (`acks=all`) with its records, timestamps and compression unchanged, as
/// an idempotent producer's batch, to the same partition number of the same topic there.
///
/// Progress is kept in the store, per partition, as the commits of consumer group
/// `reservoir-mirror-HOST:PORT`: the next source offset, with the producer id, epoch and next
/// sequence in the commit's metadata. A mirror that is interrupted and started again continues
/// with the same producer and sequences, so a batch it sent but had not recorded is sent again
/// with its first sequence and the cluster answers it as a duplicate instead of writing it twice.
public final class KafkaMirror {
    public struct Options {
        public var topics: [String]
        public var from: StartPosition
        /// Keep waiting for new records once every partition is mirrored to its end.
        public var follow: Bool
        public init(topics: [String], from: StartPosition = .earliest, follow: Bool = false) {
            self.topics = topics
            self.from = from
            self.follow = follow
        }
    }

    /// One batch mirrored: where it was and where it went.
    public struct Sent: Sendable {
        public var topic: String
        public var partition: Int
        public var source: ClosedRange<Int64>
        /// The batch's first offset on the cluster; -1 when the cluster had it already and did not
        /// say where.
        public var targetBaseOffset: Int64
    }

    private let store: Reservoir
    private let bootstrap: KafkaClientConnection
    private let options: Options
    private var brokers: [Int32: (host: String, port: Int)] = [:]
    private var leaders: [String: [Int32]] = [:]
    private var connections: [Int32: KafkaClientConnection] = [:]
    private let group: String

    /// Connects to the cluster at `host:port` (any of its brokers).
    public init(store: Reservoir, host: String, port: Int, options: Options) throws(KafkaClientError) {
        self.store = store
        self.options = options
        group = "reservoir-mirror-\(host):\(port)"
        bootstrap = try KafkaClientConnection(host: host, port: port, clientId: "reservoir-mirror")
    }

    /// Mirrors until every partition is sent to its end (or, following, until `stop` says so),
    /// calling `report` after each batch the cluster acknowledged.
    public func run(stop: @escaping @Sendable () -> Bool = { false }, report: (Sent) -> Void) async throws {
        // The connections block: on a thread of their own, not on Swift concurrency's pool.
        try await BlockingThreadExecutor.run { try await mirror(stop: stop, report: report) }
    }

    private func mirror(stop: @escaping @Sendable () -> Bool, report: (Sent) -> Void) async throws {
        try await prepareTargets()
        var states: [TopicPartition: PartitionState] = [:]
        for topic in options.topics {
            for partition in 0..<(leaders[topic]?.count ?? 0) {
                let key = TopicPartition(topic, partition)
                states[key] = try resume(key)
            }
        }
        while !stop() {
            var progressed = false
            for key in states.keys.sorted() {
                guard var state = states[key] else { continue }
                let log = try store.log(topic: key.topic, partition: key.partition)
                if state.next < log.startOffset { state.next = log.startOffset }
                guard state.next < log.endOffset else { continue }
                let result = try log.read(from: state.next, maxBytes: 1 << 20)
                guard !result.batches.isEmpty else { continue }
                for batch in result.batches {
                    if stop() { break }
                    if batch.header.isControl {
                        state.next = batch.nextOffset
                        continue
                    }
                    let target = try await send(batch, to: key, state: &state)
                    report(
                        Sent(
                            topic: key.topic, partition: key.partition, source: batch.baseOffset...batch.lastOffset,
                            targetBaseOffset: target))
                }
                states[key] = state
                progressed = true
            }
            if !progressed {
                guard options.follow else { return }
                var positions: [TopicPartition: Int64] = [:]
                for (key, state) in states { positions[key] = state.next }
                await store.waitForRecords(positions, timeoutMilliseconds: 500)
            }
        }
    }

    // MARK: Targets

    /// Topics are created on the cluster when missing, with the same partition count; a topic
    /// there with fewer partitions is an error (partition N goes to partition N).
    private func prepareTargets() async throws {
        var metadata = try readMetadata()
        let missing = options.topics.filter { metadata[$0] == nil }
        if !missing.isEmpty {
            var create = CreateTopicsRequest()
            create.timeoutMs = 30_000
            create.topics = try missing.map { name in
                var topic = CreateTopicsRequest.CreatableTopic()
                topic.name = name
                topic.numPartitions = Int32(try store.topic(name).config.partitions)
                topic.replicationFactor = -1
                return topic
            }
            let (created, _) = try bootstrap.request(.createTopics, create, as: CreateTopicsResponse.self)
            for topic in created.topics where topic.errorCode != 0 && topic.errorCode != KafkaErrorCode.topicAlreadyExists.rawValue {
                throw KafkaClientError("the cluster refused to create \(topic.name): error \(topic.errorCode) \(topic.errorMessage ?? "")")
            }
            for _ in 0..<50 {
                metadata = try readMetadata()
                if missing.allSatisfy({ metadata[$0] != nil }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        for name in options.topics {
            let partitions = try store.topic(name).config.partitions
            guard let leaders = metadata[name], leaders.count >= partitions else {
                throw KafkaClientError(
                    "topic \(name) has \(metadata[name]?.count ?? 0) partitions on the cluster, fewer than its \(partitions) here")
            }
            self.leaders[name] = leaders
        }
    }

    /// Each topic's partition leaders, by partition number; brokers by node id.
    private func readMetadata() throws(KafkaClientError) -> [String: [Int32]] {
        var request = MetadataRequest()
        request.topics = options.topics.map { name in
            var topic = MetadataRequest.MetadataRequestTopic()
            topic.name = name
            return topic
        }
        request.allowAutoTopicCreation = false
        let (response, _) = try bootstrap.request(.metadata, request, as: MetadataResponse.self)
        for broker in response.brokers { brokers[broker.nodeId] = (broker.host, Int(broker.port)) }
        var result: [String: [Int32]] = [:]
        for topic in response.topics where topic.errorCode == 0 {
            guard let name = topic.name else { continue }
            let sorted = topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }
            result[name] = sorted.map(\.leaderId)
        }
        return result
    }

    private func connection(to node: Int32) throws(KafkaClientError) -> KafkaClientConnection {
        if let open = connections[node] { return open }
        guard let broker = brokers[node] else { throw KafkaClientError("the cluster named no address for its broker \(node)") }
        let opened =
            broker.host == bootstrap.host && broker.port == bootstrap.port
            ? bootstrap : try KafkaClientConnection(host: broker.host, port: broker.port, clientId: "reservoir-mirror")
        connections[node] = opened
        return opened
    }

    // MARK: Progress

    /// Where a partition's mirror stands: the next source offset and its producer's state.
    struct PartitionState {
        var next: Int64
        var producerId: Int64
        var epoch: Int16
        var sequence: Int32
        var metadata: String { "producer=\(producerId) epoch=\(epoch) sequence=\(sequence)" }
    }

    /// The recorded progress of `partition`, or a fresh start at `options.from` with a new producer.
    private func resume(_ partition: TopicPartition) throws -> PartitionState {
        if let committed = store.committedOffsets(group: group)[partition] {
            let fields = Dictionary(
                committed.metadata.split(separator: " ").compactMap { field -> (String, Int64)? in
                    let parts = field.split(separator: "=")
                    guard parts.count == 2, let value = Int64(parts[1]) else { return nil }
                    return (String(parts[0]), value)
                }, uniquingKeysWith: { _, last in last })
            guard let producer = fields["producer"], let epoch = fields["epoch"].flatMap(Int16.init(exactly:)),
                let sequence = fields["sequence"].flatMap(Int32.init(exactly:))
            else {
                throw KafkaClientError(
                    "the mirror progress of \(partition) in group \(group) cannot be read (\(committed.metadata.debugDescription))")
            }
            return PartitionState(next: committed.offset, producerId: producer, epoch: epoch, sequence: sequence)
        }
        let log = try store.log(topic: partition.topic, partition: partition.partition)
        let start: Int64
        switch options.from {
        case .earliest: start = log.startOffset
        case .latest: start = log.endOffset
        case .offset(let offset): start = max(offset, log.startOffset)
        case .timestamp(let time): start = try log.offset(forTimestamp: time)?.offset ?? log.endOffset
        }
        let (producer, _) = try bootstrap.request(.initProducerId, InitProducerIdRequest(), as: InitProducerIdResponse.self)
        guard producer.errorCode == 0 else { throw KafkaClientError("the cluster gave no producer id: error \(producer.errorCode)") }
        return PartitionState(next: start, producerId: producer.producerId, epoch: producer.producerEpoch, sequence: 0)
    }

    // MARK: Sending

    /// Sends one batch as the partition's producer's next, and records the progress.
    private func send(_ batch: RecordBatch, to partition: TopicPartition, state: inout PartitionState) async throws -> Int64 {
        let bytes = try Self.produced(batch, producerId: state.producerId, epoch: state.epoch, sequence: state.sequence)
        var request = ProduceRequest()
        request.acks = -1
        request.timeoutMs = 30_000
        var topic = ProduceRequest.TopicProduceData()
        topic.name = partition.topic
        var data = ProduceRequest.PartitionProduceData()
        data.index = Int32(partition.partition)
        data.records = .bytes(ByteBuffer(bytes: bytes))
        topic.partitionData = [data]
        request.topicData = [topic]
        guard let leader = leaders[partition.topic]?[partition.partition] else {
            throw KafkaClientError("no leader for \(partition) on the cluster")
        }
        let (response, _) = try connection(to: leader).request(.produce, request, as: ProduceResponse.self)
        guard let answer = response.responses.first?.partitionResponses.first else {
            throw KafkaClientError("the cluster's Produce response for \(partition) is empty")
        }
        // A cluster that recognises the batch as one it has (sent before an interruption, not yet
        // recorded here) answers with its first offset, or, as some do, DUPLICATE_SEQUENCE_NUMBER.
        let duplicate = answer.errorCode == KafkaErrorCode.duplicateSequenceNumber.rawValue
        guard answer.errorCode == 0 || duplicate else {
            throw KafkaClientError(
                "the cluster refused \(partition) offsets \(batch.baseOffset)...\(batch.lastOffset): error \(answer.errorCode) \(answer.errorMessage ?? "")"
            )
        }
        state.sequence = Int32(truncatingIfNeeded: (Int64(state.sequence) + Int64(batch.recordCount)) % (Int64(Int32.max) + 1))
        state.next = batch.nextOffset
        let now = Int64(KafkaBroker.wallClockMilliseconds())
        try await store.commitGroupOffsets(
            group, [partition: CommittedOffset(offset: state.next, metadata: state.metadata, commitTimestamp: now)])
        return duplicate ? -1 : answer.baseOffset
    }

    /// The batch as a producer sends it: base offset 0, no leader epoch, the producer's id,
    /// epoch and sequence, not transactional, CRC made right. A batch with gaps in its offsets (a
    /// compacted one) is encoded again with its records, since brokers take only contiguous ones.
    static func produced(_ batch: RecordBatch, producerId: Int64, epoch: Int16, sequence: Int32) throws -> [UInt8] {
        var bytes: [UInt8]
        if batch.recordCount != Int(batch.header.lastOffsetDelta) + 1 {
            let builder = try RecordBatchBuilder(compression: batch.header.compression ?? .none)
            for record in try batch.records() {
                try builder.append(key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
            }
            bytes = try builder.encodedBytes(baseOffset: 0)
        } else {
            bytes = batch.encodedBytes
        }
        guard bytes.count >= 61 else { throw KafkaClientError("a batch of \(bytes.count) bytes") }
        func put<T: FixedWidthInteger>(_ value: T, at position: Int) {
            withUnsafeBytes(of: value.bigEndian) { for (index, byte) in $0.enumerated() { bytes[position + index] = byte } }
        }
        put(Int64(0), at: 0)
        put(Int32(-1), at: 12)
        let attributes = (Int16(bytes[21]) << 8 | Int16(bytes[22])) & ~0x10
        put(attributes, at: 21)
        put(producerId, at: 43)
        put(epoch, at: 51)
        put(sequence, at: 53)
        put(bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }, at: 17)
        return bytes
    }
}
