extension Reservoir {
    // MARK: Reading

    /// Reads whole batches of one partition from `offset`; see ``PartitionLog/read(from:maxBytes:isolation:)``.
    public func read(topic: String, partition: Int, from offset: Int64, maxBytes: Int = 1 << 20, isolation: ReadIsolation = .written)
        throws(ReservoirError) -> LogReadResult
    {
        try checkOpen()
        return try log(topic: topic, partition: partition).read(from: offset, maxBytes: maxBytes, isolation: isolation)
    }

    /// A reader that replays one partition from `start` and then waits for new records.
    ///
    /// - Parameters:
    ///   - topic: the topic.
    ///   - partition: the partition of `topic`.
    ///   - start: where reading begins.
    ///   - isolation: `.durable` hands out only records already fsync'd.
    ///   - outOfRange: what to do when the position is no longer in the partition.
    ///   - maxBytes: how much one internal fetch reads.
    public func reader(
        topic: String, partition: Int, from start: StartPosition = .earliest, isolation: ReadIsolation = .written,
        outOfRange: OutOfRangeBehavior = .fail, maxBytes: Int = 1 << 20
    ) throws(ReservoirError) -> PartitionReader {
        try checkOpen()
        let log = try self.log(topic: topic, partition: partition)
        return PartitionReader(
            topic: topic, partition: partition, log: log, start: start, isolation: isolation,
            outOfRange: outOfRange, maxBytes: maxBytes)
    }

    /// The offset of the first record of the partition whose timestamp is ≥ `timestamp`, or nil.
    public func offset(topic: String, partition: Int, forTimestamp timestamp: Int64) throws(ReservoirError) -> Int64? {
        try log(topic: topic, partition: partition).offset(forTimestamp: timestamp)?.offset
    }
}

extension Reservoir {
    /// Suspends until one of `positions` (partitions and the offsets a reader has reached) has
    /// records at or past that offset, `timeoutMilliseconds` pass, the task is cancelled or the
    /// store closes; returns at once when one already has. No polling: the logs wake the waiter
    /// as they append (or, for `.durable`, as their durable end moves).
    public func waitForRecords(_ positions: [TopicPartition: Int64], isolation: ReadIsolation = .written, timeoutMilliseconds: Int) async {
        let logs = positions.compactMap { key, offset in (try? log(topic: key.topic, partition: key.partition)).map { ($0, offset) } }
        guard !logs.isEmpty, timeoutMilliseconds > 0 else { return }
        func ready() -> Bool {
            logs.contains { log, offset in (isolation == .durable ? log.durableEndOffset : log.endOffset) > offset || log.isClosed }
        }
        if ready() { return }
        let wakeup = Wakeup()
        for (log, _) in logs { log.addObserver(wakeup, durable: isolation == .durable) }
        defer { for (log, _) in logs { log.removeObserver(wakeup) } }
        let deadline = monotonicNanoseconds() + timerNanoseconds(milliseconds: timeoutMilliseconds)
        let timer = Task {
            try? await Task.sleep(nanoseconds: timerNanoseconds(milliseconds: timeoutMilliseconds))
            wakeup.signal()
        }
        defer { timer.cancel() }
        while !ready(), !Task.isCancelled, !isClosed, monotonicNanoseconds() < deadline {
            await wakeup.wait()
        }
    }
}
