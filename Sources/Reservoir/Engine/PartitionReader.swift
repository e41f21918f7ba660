/// Where a reader starts.
public enum StartPosition: Sendable, Hashable {
    /// The first record still in the partition.
    case earliest
    /// The end: only records appended from now on.
    case latest
    /// This offset (the next record at or after it, when it fell in a gap).
    case offset(Int64)
    /// The first record whose timestamp is at or after this time (ms since the epoch); the end
    /// when every record is older.
    case timestamp(Int64)
}

/// What a reader does when its position is no longer in the partition (retention or
/// `deleteRecords` removed it, or it was beyond the end).
public enum OutOfRangeBehavior: Sendable, Hashable {
    /// Throw ``ReservoirError/Code/offsetOutOfRange``.
    case fail
    /// Go on from the earliest offset still present.
    case restartAtEarliest
}

/// Replays one partition from a start position, then waits for new records: an `AsyncSequence`
/// that ends only when its task is cancelled or the store closes.
///
/// ```swift
/// for try await record in try store.reader(topic: "orders", partition: 0, from: .timestamp(yesterday)) {
///     print(record.offset, record.valueString ?? "")
/// }
/// ```
///
/// Records are fetched a batch range at a time (up to `maxBytes`) and handed out from memory,
/// so iteration costs little per record; each record is read in place from the segment mapping.
/// A reader waiting at the end is woken by the append that passes it (no polling). ``batches``
/// gives the raw batches instead, for zero-copy consumers.
public struct PartitionReader: AsyncSequence, Sendable {
    public typealias Element = ConsumerRecord
    public typealias Failure = any Error

    public let topic: String
    public let partition: Int
    let log: PartitionLog
    let start: StartPosition
    let isolation: ReadIsolation
    let outOfRange: OutOfRangeBehavior
    let maxBytes: Int

    init(topic: String, partition: Int, log: PartitionLog, start: StartPosition, isolation: ReadIsolation,
         outOfRange: OutOfRangeBehavior, maxBytes: Int) {
        self.topic = topic
        self.partition = partition
        self.log = log
        self.start = start
        self.isolation = isolation
        self.outOfRange = outOfRange
        self.maxBytes = maxBytes
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(fetcher: LogFetcher(log: log, start: start, isolation: isolation, outOfRange: outOfRange, maxBytes: maxBytes),
                 topic: topic, partition: partition)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let fetcher: LogFetcher
        let topic: String
        let partition: Int
        var buffer: [ConsumerRecord] = []
        var index = 0
        /// A damaged batch ends the iteration after the records before it; it is thrown from then
        /// on, so that no caller reads past it by calling again.
        var failure: (any Error)?

        init(fetcher: LogFetcher, topic: String, partition: Int) {
            self.fetcher = fetcher
            self.topic = topic
            self.partition = partition
        }

        /// The next record, waiting for one to be appended if need be; nil once the task is
        /// cancelled or the store closed.
        public mutating func next() async throws -> ConsumerRecord? {
            while index == buffer.count {
                if let failure { throw failure }
                guard let result = try await fetcher.next() else { return nil }
                buffer.removeAll(keepingCapacity: true)
                index = 0
                do { try fetcher.decode(result, topic: topic, partition: partition, into: &buffer) } catch { failure = error }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// The same reader handing out whole batches (the first may start before the position;
    /// its records below it are to be skipped).
    public var batches: Batches { Batches(reader: self) }

    /// Raw batches from the reader's position on.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = RecordBatch
        public typealias Failure = any Error
        let reader: PartitionReader

        public func makeAsyncIterator() -> Iterator {
            Iterator(fetcher: LogFetcher(log: reader.log, start: reader.start, isolation: reader.isolation,
                                         outOfRange: reader.outOfRange, maxBytes: reader.maxBytes))
        }

        public struct Iterator: AsyncIteratorProtocol {
            let fetcher: LogFetcher
            var pending: [RecordBatch] = []
            var index = 0

            public mutating func next() async throws -> RecordBatch? {
                while index == pending.count {
                    guard let result = try await fetcher.next() else { return nil }
                    pending = result.batches
                    index = 0
                }
                defer { index += 1 }
                return pending[index]
            }
        }
    }
}

/// The fetch loop under readers and group members: resolves the start position, reads batch
/// ranges, and waits on a ``Wakeup`` registered with the log when it is at the end.
final class LogFetcher: @unchecked Sendable {
    // Used by one iterator, on one task at a time (iterators are not shared across tasks).
    let log: PartitionLog
    private let start: StartPosition
    let isolation: ReadIsolation
    private let outOfRange: OutOfRangeBehavior
    private let maxBytes: Int
    private let wakeup: Wakeup
    private let decoder = RecordDecoder()
    /// The next offset to read; nil until the start position is resolved.
    private(set) var position: Int64?

    /// - Parameter wakeup: the signal to wait on; several fetchers (a group member's partitions)
    ///   may share one.
    init(log: PartitionLog, start: StartPosition, isolation: ReadIsolation, outOfRange: OutOfRangeBehavior, maxBytes: Int,
         wakeup: Wakeup = Wakeup()) {
        self.log = log
        self.start = start
        self.isolation = isolation
        self.outOfRange = outOfRange
        self.maxBytes = max(1, maxBytes)
        self.wakeup = wakeup
        // Registered before the first read, so that no append between a read and a wait is missed.
        log.addObserver(wakeup, durable: isolation == .durable)
    }

    deinit { log.removeObserver(wakeup) }

    private var end: Int64 { isolation == .durable ? log.durableEndOffset : log.endOffset }

    /// Moves the position (a seek).
    func seek(to offset: Int64) {
        position = offset
        wakeup.signal()
    }

    /// Resolves a start position to an offset now.
    static func resolve(_ start: StartPosition, in log: PartitionLog, end: Int64) throws(ReservoirError) -> Int64 {
        switch start {
        case .earliest: return log.startOffset
        case .latest: return end
        case .offset(let offset): return offset
        case .timestamp(let time): return try log.offset(forTimestamp: time)?.offset ?? end
        }
    }

    /// Reads once without waiting: batches from the position, or nil at the end.
    func poll() throws(ReservoirError) -> LogReadResult? {
        let from: Int64
        if let position { from = position } else { from = try Self.resolve(start, in: log, end: end) }
        position = from
        do {
            let result = try log.read(from: from, maxBytes: maxBytes, isolation: isolation)
            if result.isEmpty { return nil }
            position = result.nextOffset
            return result
        } catch {
            guard error.code == .offsetOutOfRange, outOfRange == .restartAtEarliest else { throw error }
            position = log.startOffset
            let result = try log.read(from: log.startOffset, maxBytes: maxBytes, isolation: isolation)
            if result.isEmpty { return nil }
            position = result.nextOffset
            return result
        }
    }

    /// The next non-empty read, waiting for appends; nil when cancelled or the log closed.
    func next() async throws -> LogReadResult? {
        while true {
            if Task.isCancelled { return nil }
            if let result = try poll() { return result }
            if log.isClosed { return nil }
            await wakeup.wait()
        }
    }

    /// Appends the records of `result` at or after its requested offset to `buffer`.
    ///
    /// - Throws: ``ReservoirError/Code/corruptData`` naming the partition, offset and file of a
    ///   damaged batch, with the records before it in `buffer`.
    func decode(_ result: LogReadResult, topic: String, partition: Int, into buffer: inout [ConsumerRecord]) throws(ReservoirError) {
        for batch in result.batches {
            do {
                try decoder.iterateRetained(batch, from: result.requestedOffset, verifyCRC: true) { view, storage in
                    buffer.append(ConsumerRecord(topic: topic, partition: partition, view: view, storage: storage))
                }
            } catch {
                // The records before this batch stay in `buffer` for the caller; the position goes
                // back to the damaged batch, so that the next read fails on it again instead of
                // passing it by.
                buffer.removeAll { $0.offset >= batch.baseOffset }
                position = max(batch.baseOffset, result.requestedOffset)
                throw ReservoirError(.corruptData, "topic \(topic) partition \(partition): the batch at offset \(batch.baseOffset) in \(log.segmentFile(containing: batch.baseOffset)) is damaged: \(error)")
            }
        }
    }
}
