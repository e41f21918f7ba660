import Synchronization

/// Gathers single-record appends to one partition into batches.
///
/// A record joins the open batch; the batch is sealed and written as soon as no earlier batch is
/// being written (or once it reaches `batchBytes`, or after `linger` when one is set). So a lone
/// producer pays no waiting, and many concurrent producers, or a producer that does not wait for
/// each acknowledgement, write large batches. Batches are encoded and written on the store's I/O
/// thread; durable acknowledgements wait for the group commit.
final class RecordAccumulator: Sendable {
    typealias Completion = @Sendable (Result<Int64, ReservoirError>) -> Void

    private struct Pending {
        var records: [Record] = []
        var completions: [(acks: Acks, done: Completion)] = []
        var writeScheduled = false
    }

    private let log: PartitionLog
    private let limits: AppendPipeline.Limits
    private let ioThread: IOThread
    private let batchBytes: Int
    private let lingerNanoseconds: UInt64
    private let pending = Mutex(Pending())
    private let makeEncoder: @Sendable () throws(ReservoirError) -> RecordBatchEncoder
    // Touched only on the I/O thread, which runs jobs one at a time.
    private nonisolated(unsafe) var encoder: RecordBatchEncoder?

    init(
        log: PartitionLog, limits: AppendPipeline.Limits, ioThread: IOThread, batchBytes: Int, lingerMilliseconds: Int,
        makeEncoder: @escaping @Sendable () throws(ReservoirError) -> RecordBatchEncoder
    ) {
        self.log = log
        self.limits = limits
        self.ioThread = ioThread
        self.batchBytes = batchBytes
        self.lingerNanoseconds = timerNanoseconds(milliseconds: lingerMilliseconds)
        self.makeEncoder = makeEncoder
    }

    /// Adds `record`; `done` gets its offset once the record is acknowledged as `acks` asks.
    func add(_ record: Record, acks: Acks, done: @escaping Completion) {
        let schedule = pending.withLock { pending -> Bool in
            pending.records.append(record)
            pending.completions.append((acks, done))
            if pending.writeScheduled { return false }
            pending.writeScheduled = true
            return true
        }
        guard schedule else { return }
        if lingerNanoseconds > 0 {
            ioThread.schedule(afterNanoseconds: lingerNanoseconds) { [self] in drain() }
        } else {
            ioThread.submit { [self] in drain() }
        }
    }

    /// Writes everything pending, in batches of at most `batchBytes`.
    private func drain() {
        let (records, completions) = pending.withLock { pending in
            let taken = (pending.records, pending.completions)
            pending.records = []
            pending.completions = []
            pending.writeScheduled = false
            return taken
        }
        guard !records.isEmpty else { return }
        // Batches of at most `batchBytes` uncompressed. Each record's size is its exact size in
        // its batch (the timestamps are the batch's: delta 0; the offset delta is its place), so
        // a record over the limit fails alone and never takes its batch-mates with it.
        var batch: [Record] = []
        var waiting: [(acks: Acks, done: Completion)] = []
        var bytes = RecordBatchHeader.size
        for (record, completion) in zip(records, completions) {
            var size = RecordWriter.encodedSize(of: record, timestampDelta: 0, offsetDelta: Int32(batch.count)).total
            if !batch.isEmpty && bytes + size > batchBytes {
                write(batch, waiting)
                batch.removeAll(keepingCapacity: true)
                waiting.removeAll(keepingCapacity: true)
                bytes = RecordBatchHeader.size
                size = RecordWriter.encodedSize(of: record, timestampDelta: 0, offsetDelta: 0).total
            }
            do throws(ReservoirError) { try limits.checkRecord(bytes: size) } catch {
                completion.done(.failure(error))
                continue
            }
            batch.append(record)
            waiting.append(completion)
            bytes += size
        }
        if !batch.isEmpty { write(batch, waiting) }
    }

    private func write(_ records: [Record], _ completions: [(acks: Acks, done: Completion)]) {
        do throws(ReservoirError) {
            let encoder: RecordBatchEncoder
            if let existing = self.encoder {
                encoder = existing
            } else {
                encoder = try makeEncoder()
                self.encoder = encoder
            }
            let range = try log.append(limits.encode(records, with: encoder))
            var durable: [(Int64, Completion)] = []
            for (index, completion) in zip(range, completions) {
                if log.needsFsync(completion.acks) {
                    durable.append((index, completion.done))
                } else {
                    completion.done(.success(index))
                }
            }
            guard !durable.isEmpty else { return }
            let waiting = durable
            log.whenAcknowledged(range, acks: .durable) { error in
                for (offset, done) in waiting {
                    if let error { done(.failure(error)) } else { done(.success(offset)) }
                }
            }
        } catch {
            for completion in completions { completion.done(.failure(error)) }
        }
    }
}
