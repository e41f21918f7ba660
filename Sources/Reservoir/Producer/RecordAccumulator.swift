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
        var bytes = 0
        var writeScheduled = false
    }

    private let log: PartitionLog
    private let ioThread: IOThread
    private let batchBytes: Int
    private let lingerNanoseconds: UInt64
    private let pending = Mutex(Pending())
    private let makeEncoder: @Sendable () throws(ReservoirError) -> RecordBatchEncoder
    // Touched only on the I/O thread, which runs jobs one at a time.
    private nonisolated(unsafe) var encoder: RecordBatchEncoder?

    init(log: PartitionLog, ioThread: IOThread, batchBytes: Int, lingerMilliseconds: Int,
         makeEncoder: @escaping @Sendable () throws(ReservoirError) -> RecordBatchEncoder) {
        self.log = log
        self.ioThread = ioThread
        self.batchBytes = batchBytes
        self.lingerNanoseconds = timerNanoseconds(milliseconds: lingerMilliseconds)
        self.makeEncoder = makeEncoder
    }

    /// Adds `record`; `done` gets its offset once the record is acknowledged as `acks` asks.
    func add(_ record: Record, size: Int, acks: Acks, done: @escaping Completion) {
        let schedule = pending.withLock { pending -> Bool in
            pending.records.append(record)
            pending.completions.append((acks, done))
            pending.bytes += size
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
            pending.bytes = 0
            pending.writeScheduled = false
            return taken
        }
        guard !records.isEmpty else { return }
        var start = 0
        while start < records.count {
            var end = start
            var bytes = 0
            while end < records.count {
                let size = RecordWriter.encodedSize(of: records[end], timestampDelta: 0, offsetDelta: 0).total
                if end > start && bytes + size > batchBytes { break }
                bytes += size
                end += 1
            }
            write(records[start..<end], completions[start..<end])
            start = end
        }
    }

    private func write(_ records: ArraySlice<Record>, _ completions: ArraySlice<(acks: Acks, done: Completion)>) {
        do throws(ReservoirError) {
            let encoder: RecordBatchEncoder
            if let existing = self.encoder {
                encoder = existing
            } else {
                encoder = try makeEncoder()
                self.encoder = encoder
            }
            let range = try log.append(records, encoder: encoder, acks: .buffered)
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
            log.whenDurable(range.upperBound + 1) { error in
                for (offset, done) in waiting {
                    if let error { done(.failure(error)) } else { done(.success(offset)) }
                }
            }
        } catch {
            for completion in completions { completion.done(.failure(error)) }
        }
    }
}
