import CoreMetrics
import Logging
import Synchronization

extension PartitionLog {
    // MARK: Reading

    /// Reads whole batches from `offset`, up to about `maxBytes` (at least one batch).
    ///
    /// - Throws: ``ReservoirError/Code/offsetOutOfRange`` for an offset below the log start or above the end.
    /// - Returns: an empty result at the end of the log.
    public func read(from offset: Int64, maxBytes: Int = 1 << 20, isolation: ReadIsolation = .written) throws(ReservoirError)
        -> LogReadResult
    {
        if follower != nil { catchUp() }
        let limit = isolation == .durable ? durableEndOffset : endOffset
        let (first, start) = state.withLock { state -> (Segment?, Int64) in
            (state.segments.isEmpty ? nil : state.segments[Self.segmentIndex(state.segments, containing: offset)], state.logStartOffset)
        }
        guard offset >= start else {
            throw ReservoirError(.offsetOutOfRange, "offset \(offset) is below the log start offset \(start) of \(directory)")
        }
        if let damaged = damage.first(where: { $0.contains(offset) }) {
            throw ReservoirError(
                .corruptData,
                "\(LogLoader.label(directory)): offset \(offset) cannot be read: damaged \(damaged); run `reservoir verify --repair` to keep what is intact"
            )
        }
        guard offset <= limit else {
            throw ReservoirError(.offsetOutOfRange, "offset \(offset) is beyond the log end offset \(limit) of \(directory)")
        }
        var result = LogReadResult(batches: [], requestedOffset: offset, nextOffset: offset, endOffset: limit, startOffset: start)
        guard offset < limit else { return result }
        // Usually the first segment serves the read; one that ends before `offset` (a gap left by
        // compaction, an empty segment) passes it on to the next.
        var segment = first
        while let current = segment, current.baseOffset < limit {
            if var batches = try current.read(from: offset, maxBytes: maxBytes) {
                batches.removeAll { $0.baseOffset >= limit }
                if let last = batches.last {
                    result.batches = batches
                    result.nextOffset = last.nextOffset
                    metrics.readBytes.increment(by: batches.reduce(0) { $0 + $1.bytes.count })
                }
                break
            }
            segment = state.withLock { state in state.segments.first { $0.baseOffset > current.baseOffset } }
        }
        return result
    }

    /// The path of the segment file that holds `offset` (for messages that say where).
    public func segmentFile(containing offset: Int64) -> String {
        state.withLock { state in
            state.segments.isEmpty ? directory : state.segments[Self.segmentIndex(state.segments, containing: offset)].files.log
        }
    }

    /// The index of the last segment whose base offset is ≤ `offset` (or 0).
    private static func segmentIndex(_ segments: [Segment], containing offset: Int64) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].baseOffset <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The first record whose timestamp is ≥ `timestamp`: its offset and timestamp, or nil when
    /// every record is older.
    public func offset(forTimestamp timestamp: Int64) throws(ReservoirError) -> (offset: Int64, timestamp: Int64)? {
        let (candidates, start) = state.withLock { state in
            (state.segments.filter { $0.maxTimestamp >= timestamp }, state.logStartOffset)
        }
        let decoder = RecordDecoder()
        for segment in candidates {
            if let found = try segment.findOffset(byTimestamp: timestamp, startingOffset: start, decoder: decoder) {
                return found
            }
        }
        return nil
    }

    // MARK: Waiting for appends

    /// Signals `wakeup` after every append (or, with `durable`, whenever the durable end
    /// offset may have moved) and when the log closes, until ``removeObserver(_:)``.
    func addObserver(_ wakeup: Wakeup, durable: Bool = false) {
        let added = observers.withLock { $0.updateValue((wakeup, durable), forKey: ObjectIdentifier(wakeup)) == nil }
        if added { observerCount.add(1, ordering: .relaxed) }
    }

    func removeObserver(_ wakeup: Wakeup) {
        let removed = observers.withLock { $0.removeValue(forKey: ObjectIdentifier(wakeup)) != nil }
        if removed { observerCount.subtract(1, ordering: .relaxed) }
    }

    func signalObservers(durable: Bool, all: Bool = false) {
        let targets = observers.withLock { observers in
            observers.values.filter { all || $0.durable == durable }.map(\.wakeup)
        }
        for wakeup in targets { wakeup.signal() }
    }

    /// Whether the log was closed (its store closed): readers end.
    public var isClosed: Bool { state.withLock { $0.closed } }
}
