import Dispatch
import Synchronization

/// Appends batches to one topic through a writer thread of its own, so that filling the next
/// batch overlaps writing the previous one: the shape of Kafka's producer, whose `send` returns
/// before the write. On a compressed topic the two threads share the compression, a batch each:
/// `send` compresses its batch itself while the writer is busy compressing an earlier one.
///
/// ```swift
/// let producer = try store.makeProducer(for: "orders", acks: .buffered)
/// let batch = try producer.makeBatchBuilder()
/// for orders in incoming {                      // e.g. 1000 orders at a time
///     for order in orders { try batch.append(key: order.userID, value: order.json) }
///     try producer.send(batch, partition: 0)   // returns at once; `batch` is empty again
/// }
/// try producer.flush()                          // every batch sent is acknowledged
/// ```
///
/// On two cores or more this appends faster than `Reservoir.append(to:batch:partition:acks:)`,
/// which encodes and writes one after the other on the caller's thread (see Docs/BENCHMARKS.md).
///
/// **Acknowledgement.** A batch is acknowledged as `acks` says once its ``PendingAppend``
/// completes; `flush()` waits for every batch sent. Batches are written in the order they were
/// sent. ``send(_:partition:)`` checks the records against the topic first and throws without
/// taking them when they break a rule; it blocks while `maxInFlight` batches wait to be written.
///
/// **Failures.** When a write fails (a full disk, a closed store), that batch and every batch
/// sent after it fail with the same error, nothing more is written, and `send` throws the error
/// from then on: the log never holds a batch without the ones sent before it. A batch that is over
/// the topic's batch limit once compressed, or larger than a segment, fails alone, unwritten. `flush()` throws the first
/// failure of any batch since the previous flush.
///
/// Close a producer with ``close()``; it can be used from several threads, but batches sent
/// concurrently are written in whichever order `send` took them.
public final class BatchProducer: Sendable {
    /// The topic written.
    public let topic: String
    /// When batches count as acknowledged.
    public let acks: Acks
    /// Batches sent and not yet written, at most.
    public let maxInFlight: Int

    private let store: Reservoir
    /// Writes the batches, at most `maxInFlight` queued or being written.
    private let writer: PipelineThread
    /// Entered per batch sent, left when its outcome is known.
    private let outstanding = DispatchGroup()

    private struct State {
        /// Encoders the writer is done with, for the next builder to continue on.
        var spare: [EncoderBox] = []
        /// The write failure that stopped the producer.
        var stopped: ReservoirError?
        /// The first failure of any batch since the last flush.
        var unreported: ReservoirError?
        var closed = false
    }

    private let state = Mutex(State())
    /// Batches sent for the writer to seal that it has not sealed yet.
    private let writerSeals = Atomic<Int>(0)

    init(store: Reservoir, topic: String, acks: Acks, maxInFlight: Int) {
        self.store = store
        self.topic = topic
        self.acks = acks
        self.maxInFlight = maxInFlight
        writer = PipelineThread(capacity: maxInFlight)
    }

    deinit { writer.stop() }

    /// A builder with the topic's compression.
    public func makeBatchBuilder() throws(ReservoirError) -> RecordBatchBuilder {
        try store.makeBatchBuilder(for: topic)
    }

    /// Takes the records of `batch` for writing to one partition (`partition`, or round robin
    /// when nil) and returns, `batch` empty again, without waiting for the write; blocks only
    /// while `maxInFlight` batches wait to be written. It seals the batch (header, CRC, and the
    /// compression while the writer is busy compressing an earlier batch) before it returns.
    ///
    /// - Returns: the batch's pending acknowledgement.
    /// - Throws: ``ReservoirError`` when the records break the topic's rules (nothing is taken), when
    ///   the producer is closed, or when an earlier write failed.
    @discardableResult
    public func send(_ batch: RecordBatchBuilder, partition: Int? = nil) throws(ReservoirError) -> PendingAppend {
        try state.withLock { (state) throws(ReservoirError) in
            if state.closed { throw ReservoirError(.closed, "the producer for topic \(topic) is closed") }
            if let stopped = state.stopped { throw stopped }
        }
        let pipeline = try AppendPipeline(store, topic: topic)
        let target = try pipeline.route(batch, partition: partition)
        let current = batch.encoder
        let replacement: RecordBatchEncoder
        if let spare = state.withLock({ $0.spare.popLast() })?.encoder,
            spare.compression == current.compression, spare.compressionLevel == current.compressionLevel
        {
            replacement = spare
        } else {
            replacement = try RecordBatchEncoder(compression: current.compression, compressionLevel: current.compressionLevel)
        }
        let taken = batch.take(leaving: replacement)
        // Who seals the batch (header, CRC, compression): an uncompressed batch is sealed here,
        // where its bytes are still in this core's cache, and the writer only writes it. A
        // compressed one is sealed here while the writer is busy compressing an earlier batch (as
        // Kafka's producer compresses on the sending thread), else by the writer, so that both
        // threads compress, a batch each.
        let sealHere = current.compression == .none || writerSeals.load(ordering: .acquiring) > 0
        let sealed = sealHere ? SealedBatch(Result { () throws(ReservoirError) in try pipeline.seal(taken) }) : nil
        if !sealHere { writerSeals.add(1, ordering: .releasing) }
        let pending = PendingAppend(partition: target)
        outstanding.enter()
        writer.submit { [self] in write(taken, sealed: sealed, through: pipeline, to: target, pending: pending) }
        return pending
    }

    /// A batch sealed by the sending thread, for the writer.
    private struct SealedBatch: @unchecked Sendable {
        // Safe to send: the batch's bytes are in the taken records' encoder, and the writer,
        // which receives both, is their one user from then on.
        let result: Result<EncodedBatch, ReservoirError>
        init(_ result: Result<EncodedBatch, ReservoirError>) { self.result = result }
    }

    /// Runs on the writer thread, one batch at a time in the order sent: the append pipeline's
    /// stages after routing (and sealing, when the sending thread did not).
    private func write(
        _ taken: RecordBatchBuilder.TakenRecords, sealed: SealedBatch?, through pipeline: AppendPipeline, to partition: Int,
        pending: PendingAppend
    ) {
        var outcome: Result<(log: PartitionLog, offsets: ClosedRange<Int64>), ReservoirError>
        if let stopped = state.withLock({ $0.stopped }) {
            if sealed == nil { writerSeals.subtract(1, ordering: .releasing) }
            outcome = .failure(stopped)
        } else {
            do throws(ReservoirError) {
                let batch: EncodedBatch
                switch sealed?.result {
                case .success(let sealedBatch): batch = sealedBatch
                case .failure(let error): throw error
                case nil:
                    defer { writerSeals.subtract(1, ordering: .releasing) }
                    batch = try pipeline.seal(taken)
                }
                outcome = .success(try pipeline.append(batch, to: partition))
            } catch {
                // A batch over the batch limit or larger than a segment was refused before
                // anything was written; any other failure may recur, so nothing after it is written.
                if error.code != .recordTooLarge { state.withLock { $0.stopped = $0.stopped ?? error } }
                outcome = .failure(error)
            }
        }
        let box = EncoderBox(taken.encoder)
        state.withLock { if $0.spare.count <= maxInFlight { $0.spare.append(box) } }
        switch outcome {
        case .success(let (log, offsets)):
            log.whenAcknowledged(offsets, acks: acks) { [self] error in
                if let error {
                    state.withLock { $0.stopped = $0.stopped ?? error }
                    complete(pending, .failure(error))
                } else {
                    complete(pending, .success(offsets))
                }
            }
        case .failure(let error):
            complete(pending, .failure(error))
        }
    }

    private func complete(_ pending: PendingAppend, _ outcome: Result<ClosedRange<Int64>, ReservoirError>) {
        if case .failure(let error) = outcome { state.withLock { $0.unreported = $0.unreported ?? error } }
        pending.complete(outcome)
        outstanding.leave()
    }

    /// Blocks until every batch sent so far is acknowledged or failed.
    ///
    /// - Throws: the first failure of any batch sent since the previous flush.
    public func flush() throws(ReservoirError) {
        outstanding.wait()
        try reportFailure()
    }

    /// As `flush()`, suspending instead of blocking.
    public func flush() async throws {
        await withCheckedContinuation { continuation in
            outstanding.notify(queue: .global()) { continuation.resume() }
        }
        try reportFailure()
    }

    private func reportFailure() throws(ReservoirError) {
        if let failure = state.withLock({ state -> ReservoirError? in
            defer { state.unreported = nil }
            return state.unreported
        }) {
            throw failure
        }
    }

    /// Flushes, then ends the writer thread; `send` throws from then on.
    public func close() throws(ReservoirError) {
        state.withLock { $0.closed = true }
        defer { writer.stop() }
        try flush()
    }
}

extension Reservoir {
    /// A producer that writes batches to `topic` from a thread of its own; see ``BatchProducer``.
    ///
    /// - Parameters:
    ///   - topic: the topic the batches go to.
    ///   - acks: when batches count as acknowledged.
    ///   - maxInFlight: batches sent and not yet written, at most (at least 1); `send` blocks
    ///     beyond. Two keep one batch being filled and one being written.
    public func makeProducer(for topic: String, acks: Acks = .durable, maxInFlight: Int = 2) throws(ReservoirError) -> BatchProducer {
        try checkOpen()
        try checkWritable(topic)
        _ = try self.topic(topic)
        guard maxInFlight >= 1 else {
            throw ReservoirError(.invalidArgument, "maxInFlight must be at least 1, not \(maxInFlight)")
        }
        return BatchProducer(store: self, topic: topic, acks: acks, maxInFlight: maxInFlight)
    }
}
