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
    /// Each element is one record of the partition, in offset order.
    public typealias Element = ConsumerRecord
    /// Reading fails with ``ReservoirError`` (or `CancellationError`).
    public typealias Failure = any Error

    /// The topic read.
    public let topic: String
    /// The partition read.
    public let partition: Int
    let log: PartitionLog
    let start: StartPosition
    let isolation: ReadIsolation
    let outOfRange: OutOfRangeBehavior
    let maxBytes: Int

    init(
        topic: String, partition: Int, log: PartitionLog, start: StartPosition, isolation: ReadIsolation,
        outOfRange: OutOfRangeBehavior, maxBytes: Int
    ) {
        self.topic = topic
        self.partition = partition
        self.log = log
        self.start = start
        self.isolation = isolation
        self.outOfRange = outOfRange
        self.maxBytes = maxBytes
    }

    /// An iterator over the partition's records, from the reader's start position.
    public func makeAsyncIterator() -> Iterator {
        Iterator(
            fetcher: LogFetcher(log: log, start: start, isolation: isolation, outOfRange: outOfRange, maxBytes: maxBytes),
            topic: topic, partition: partition)
    }

    /// Hands out the partition's records in offset order, waiting at the end for new ones.
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
        /// Each element is one stored batch, as it is on disk.
        public typealias Element = RecordBatch
        /// Reading fails with ``ReservoirError`` (or `CancellationError`).
        public typealias Failure = any Error
        let reader: PartitionReader

        public func makeAsyncIterator() -> Iterator {
            Iterator(
                fetcher: LogFetcher(
                    log: reader.log, start: reader.start, isolation: reader.isolation,
                    outOfRange: reader.outOfRange, maxBytes: reader.maxBytes))
        }

        /// Reads on from the reader's position, waiting at the end of the partition.
        public struct Iterator: AsyncIteratorProtocol {
            let fetcher: LogFetcher
            var pending: [RecordBatch] = []
            var index = 0

            /// The next batch; nil when the task is cancelled or the store closes.
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
