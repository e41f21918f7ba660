import Logging
import Synchronization

extension PartitionLog {
    // MARK: Maintenance

    /// What a maintenance step removed from the log.
    public struct Removal: Sendable, Hashable {
        /// Segments removed whole.
        public var segments = 0
        /// Their bytes.
        public var bytes = 0
        /// Records in them.
        public var records = 0

        /// A removal of `segments` segments holding `bytes` bytes and `records` records.
        public init(segments: Int = 0, bytes: Int = 0, records: Int = 0) {
            self.segments = segments
            self.bytes = bytes
            self.records = records
        }

        static func + (lhs: Removal, rhs: Removal) -> Removal {
            Removal(segments: lhs.segments + rhs.segments, bytes: lhs.bytes + rhs.bytes, records: lhs.records + rhs.records)
        }
    }

    /// Deletes whole segments from the oldest, never the active one: those wholly below the log
    /// start offset, then while the log holds more than `retentionBytes`, then while a
    /// segment's newest record is older than `retentionMs` before `now` (Kafka's order; each
    /// rule stops at the first segment it keeps). The log start offset moves to the first
    /// segment kept and is checkpointed.
    ///
    /// Removed segments are renamed `.deleted` and their files removed `deleteDelayMs` later;
    /// readers holding their batches keep reading them (the mapping outlives the files).
    @discardableResult
    func deleteOldSegments(
        retentionMs: Int64? = nil, retentionBytes: Int64? = nil, now: Int64? = nil, deleteDelayMs: Int64 = 60_000
    ) throws(ReservoirError) -> Removal {
        let now = now ?? wallClockMilliseconds()
        return try maintenance.withLock { _ throws(ReservoirError) -> Removal in
            let (removed, previousStart) = state.withLock { state -> ([Segment], Int64) in
                let segments = state.segments
                let last = segments.count - 1
                var count = 0
                while count < last && segments[count + 1].baseOffset <= state.logStartOffset { count += 1 }
                // Size and time retention judge segments by what they hold: not a damaged log's,
                // whose lost records are not counted. Only what the log start has passed goes.
                if let retentionBytes, retentionBytes >= 0, damage.isEmpty {
                    var excess = Int64(segments[count...].reduce(0) { $0 + $1.size }) - retentionBytes
                    while count < last && excess - Int64(segments[count].size) >= 0 {
                        excess -= Int64(segments[count].size)
                        count += 1
                    }
                }
                if let retentionMs, retentionMs >= 0, damage.isEmpty {
                    while count < last && now.clampedMinus(segments[count].maxTimestamp) > retentionMs { count += 1 }
                }
                let previousStart = state.logStartOffset
                guard count > 0 else { return ([], previousStart) }
                live?.beginLayoutChange()
                state.logStartOffset = max(state.logStartOffset, segments[count].baseOffset)
                state.segments.removeFirst(count)
                return (Array(segments[..<count]), previousStart)
            }
            guard !removed.isEmpty else { return Removal() }
            defer {
                state.withLock { publishLive($0) }
                live?.endLayoutChange()
                recordSizeMetrics()
            }
            do throws(ReservoirError) { try onLogStart() } catch {
                // Not checkpointed: the next open would read the files again. Nothing is deleted.
                state.withLock { state in
                    state.segments.insert(contentsOf: removed, at: 0)
                    state.logStartOffset = previousStart
                }
                throw error
            }
            return try retire(removed, deleteDelayMs: deleteDelayMs)
        }
    }

    /// Makes offsets below `offset` unreadable (Kafka's DeleteRecords): the log start offset
    /// moves to `offset`, is checkpointed, and segments wholly below it are deleted.
    ///
    /// - Throws: ``ReservoirError/Code/offsetOutOfRange`` for an offset beyond the log end.
    @discardableResult
    func deleteRecords(before offset: Int64, deleteDelayMs: Int64 = 60_000) throws(ReservoirError) -> Removal {
        let end = endOffset
        guard offset >= 0, offset <= end else {
            throw ReservoirError(.offsetOutOfRange, "cannot delete records before \(offset): the log end offset of \(directory) is \(end)")
        }
        let previous = state.withLock { state -> Int64? in
            guard offset > state.logStartOffset else { return nil }
            defer { state.logStartOffset = offset }
            return state.logStartOffset
        }
        let removal: Removal
        defer { state.withLock { publishLive($0) } }
        do throws(ReservoirError) {
            removal = try deleteOldSegments(deleteDelayMs: deleteDelayMs)
            if previous != nil && removal.segments == 0 { try onLogStart() }
        } catch {
            // The new start is not durable: the deletion is reported as not done, and undone.
            if let previous { state.withLock { if $0.logStartOffset == offset { $0.logStartOffset = previous } } }
            throw error
        }
        return removal
    }

    /// Rolls the active segment when its first batch is older than the segment-ms setting, so that
    /// retention and compaction reach a log nobody appends to. Returns whether it rolled.
    @discardableResult
    func rollIfDue(now: Int64? = nil) throws(ReservoirError) -> Bool {
        let now = now ?? wallClockMilliseconds()
        return try state.withLock { (state) throws(ReservoirError) -> Bool in
            guard !state.closed, state.failure == nil, let active = state.segments.last, !active.isEmpty,
                now.clampedMinus(active.createdAt) >= state.config.segmentMs
            else { return false }
            _ = try roll(&state, newBase: active.nextOffset, now: now)
            return true
        }
    }

    /// Renames the files of segments already out of the list to `.deleted` and schedules their
    /// removal.
    private func retire(_ segments: [Segment], deleteDelayMs: Int64) throws(ReservoirError) -> Removal {
        var removal = Removal()
        for segment in segments {
            removal.segments += 1
            removal.bytes += segment.size
            removal.records += segment.recordCount()
            try segment.files.rename(addingSuffix: SegmentFiles.deletedSuffix)
        }
        try FileSystem.syncDirectory(directory)
        let files = segments.map(\.files)
        deleter.schedule(afterNanoseconds: timerNanoseconds(milliseconds: deleteDelayMs)) { [logger] in
            for file in files {
                do throws(ReservoirError) { try file.removeAll(suffix: SegmentFiles.deletedSuffix) } catch {
                    logger.warning("removing a deleted segment failed", metadata: ["segment": "\(file.log)", "error": "\(error)"])
                }
            }
        }
        return removal
    }

    // MARK: Compaction support

    /// The segments compaction may read and replace: every segment but the active one that is
    /// wholly durable (below the recovery point), oldest first.
    func segmentsForCleaning() -> (segments: [Segment], logStart: Int64, producerLastOffsets: [Int64: Int64]) {
        let recoveryPoint = self.recoveryPoint
        return state.withLock { state in
            // Compaction rewrites segments: never those of a damaged log, whose bytes an operator
            // must see, nor while a failed swap waits for the next open to finish it.
            guard damage.isEmpty, !swapUnfinished.load(ordering: .acquiring) else { return ([], state.logStartOffset, [:]) }
            return (
                Array(state.segments.dropLast().prefix { $0.nextOffset <= recoveryPoint }), state.logStartOffset,
                state.producers.lastOffsets
            )
        }
    }

    /// Runs `body` with the log's maintenance lock held (no retention or record deletion meanwhile).
    func withMaintenanceLock<R>(_ body: () throws(ReservoirError) -> R) throws(ReservoirError) -> R {
        try maintenance.withLock { _ throws(ReservoirError) -> R in try body() }
    }

    var hasUnfinishedSwap: Bool { swapUnfinished.load(ordering: .acquiring) }

    /// Replaces each group of segments by its cleaned file (``SegmentSwap``), then opens the new
    /// segments, builds their indexes and puts them in the list, where readers find them.
    /// Appends never wait on this; readers holding old segments keep reading them.
    ///
    /// Must be called with the maintenance lock held.
    func replaceSegments(_ groups: [[Segment]], deleteDelayMs: Int64) throws(ReservoirError) {
        let swap = SegmentSwap(directory: directory, groups: groups, logger: logger)
        // Read-only processes keep reading the old segments until the new ones are in the list.
        live?.beginLayoutChange()
        defer {
            live?.endLayoutChange()
            recordSizeMetrics()
        }
        do throws(SegmentSwap.Failure) { try swap.commit() } catch {
            if error.leftForRecovery { swapUnfinished.store(true, ordering: .releasing) }
            throw error.error
        }
        let config = self.config
        let now = wallClockMilliseconds()
        var replacements: [(old: [Segment], new: Segment)] = []
        for group in groups {
            let base = group[0].baseOffset
            let segment = try config.openSegment(SegmentFiles(directory: directory, baseOffset: base), active: false, now: now)
            let result = try segment.recover(expectedFirstOffset: base)
            if result.truncatedBytes > 0 {
                logger.error(
                    "a cleaned segment did not scan whole",
                    metadata: ["segment": "\(segment.files.log)", "reason": "\(result.reason ?? "")"])
            }
            try segment.finish()
            try segment.syncAll()
            segment.releaseDescriptors()
            replacements.append((group, segment))
        }
        state.withLock { state in
            for (old, new) in replacements {
                guard let first = state.segments.firstIndex(where: { $0 === old[0] }) else { continue }
                state.segments.replaceSubrange(first..<(first + old.count), with: [new])
            }
        }
        let retired = groups.flatMap { $0 }.map(\.files)
        deleter.schedule(afterNanoseconds: timerNanoseconds(milliseconds: deleteDelayMs)) { [logger] in
            for file in retired {
                do throws(ReservoirError) { try file.removeAll(suffix: SegmentFiles.deletedSuffix) } catch {
                    logger.warning("removing a cleaned-away segment failed", metadata: ["segment": "\(file.log)", "error": "\(error)"])
                }
            }
        }
    }
}
