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
    init(
        log: PartitionLog, start: StartPosition, isolation: ReadIsolation, outOfRange: OutOfRangeBehavior, maxBytes: Int,
        wakeup: Wakeup = Wakeup()
    ) {
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
                throw ReservoirError(
                    .corruptData,
                    "topic \(topic) partition \(partition): the batch at offset \(batch.baseOffset) in \(log.segmentFile(containing: batch.baseOffset)) is damaged: \(error)"
                )
            }
        }
    }
}
