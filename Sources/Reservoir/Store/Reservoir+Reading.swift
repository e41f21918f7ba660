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
