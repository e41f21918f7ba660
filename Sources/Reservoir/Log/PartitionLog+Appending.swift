import CoreMetrics
import Logging
import Synchronization

/// Appending: offsets assigned under the log's lock, segment rolls, flushes and acknowledgements.
extension PartitionLog {

    /// Writes `batch` into the page cache, assigning its offsets (stamped into its base offset
    /// field), and returns the first and last. Acknowledge it with ``acknowledge(_:acks:)``.
    func append(_ batch: EncodedBatch) throws(ReservoirError) -> ClosedRange<Int64> {
        let count = Int64(batch.offsetCount)
        let now = wallClockMilliseconds()
        let started = monotonicNanoseconds()
        var written = false
        var rolled = false
        let (range, flush) = try state.withLock { (state) throws(ReservoirError) -> (ClosedRange<Int64>, Bool) in
            if let failure = state.failure { throw failure }
            guard !state.closed else { throw ReservoirError(.closed, "log \(directory) is closed") }
            let config = state.config
            guard batch.byteCount <= config.segmentBytes else {
                throw ReservoirError(
                    .recordTooLarge, "batch of \(batch.byteCount) bytes is larger than the segment size \(config.segmentBytes)")
            }
            if let producer = batch.producer {
                let check = try state.producers.check(
                    producerId: producer.id, epoch: producer.epoch, firstSequence: producer.firstSequence,
                    offsetDelta: Int32(truncatingIfNeeded: count - 1))
                // A retry of a batch already written: its offsets, nothing written again.
                if case .duplicate(let original) = check { return (original, false) }
            }
            var active = state.segments[state.segments.count - 1]
            let base = active.nextOffset
            let last = base + count - 1
            batch.stamp(baseOffset: base)
            if !active.canAppend(bytes: batch.byteCount, lastOffset: last, segmentBytes: config.segmentBytes)
                || (!active.isEmpty && now.clampedMinus(active.createdAt) >= config.segmentMs)
            {
                active = try roll(&state, newBase: base, now: now)
                rolled = true
            }
            do throws(ReservoirError) {
                try active.append(batch, lastOffset: last, now: now)
            } catch {
                // A failed write (disk full) may leave a partial batch: cut it off so the log stays valid.
                try? active.truncateTail()
                throw error
            }
            end.store(Int(last + 1))
            written = true
            if live != nil { publishLive(state) }
            if let producer = batch.producer {
                state.producers.update(
                    producerId: producer.id, epoch: producer.epoch, firstSequence: producer.firstSequence,
                    offsetDelta: Int32(truncatingIfNeeded: count - 1), lastOffset: last, maxTimestamp: batch.maxTimestamp)
            }
            state.unflushedRecords += Int(count)
            var flush = false
            switch config.flushPolicy {
            case .everyRecords(let n) where state.unflushedRecords >= n:
                state.unflushedRecords = 0
                flush = true
            case .everyMilliseconds(let ms) where !state.flushScheduled:
                state.flushScheduled = true
                ioThread.schedule(afterNanoseconds: timerNanoseconds(milliseconds: ms)) { [self] in
                    self.state.withLock { $0.flushScheduled = false }
                    groupCommit.flushInBackground()
                }
            default: break
            }
            return (base...last, flush)
        }
        if flush { groupCommit.flushInBackground() }
        if observerCount.load(ordering: .relaxed) > 0 { signalObservers(durable: false) }
        if written {
            metrics.appendDuration.recordNanoseconds(Int64(monotonicNanoseconds() &- started))
            metrics.appendedBatches.increment()
            metrics.appendedRecords.increment(by: Int(batch.recordCount))
            metrics.appendedBytes.increment(by: batch.byteCount)
        }
        if rolled { recordSizeMetrics() }
        return range
    }

    /// Starts a new active segment at `newBase`; the old one is trimmed now and fsync'd on the
    /// I/O thread, after which the recovery point moves past it.
    func roll(_ state: inout State, newBase: Int64, now: Int64) throws(ReservoirError) -> Segment {
        let old = state.segments[state.segments.count - 1]
        if old.isEmpty && old.baseOffset == newBase { return old }
        let config = state.config
        live?.beginLayoutChange()
        // Read-only processes keep the segments they have until the new one is in the list.
        defer {
            publishLive(state)
            live?.endLayoutChange()
        }
        try old.finish()
        let segment = try config.openSegment(SegmentFiles(directory: directory, baseOffset: newBase), active: true, now: now)
        if let preallocator {
            let durable = takesDurableAppends.load(ordering: .relaxed) || config.flushPolicy == .always
            segment.preallocate(on: preallocator, lookahead: Self.preallocationLookahead(config, durable: durable))
        }
        state.segments.append(segment)
        directoryNeedsSync.store(true, ordering: .releasing)
        state.producers.expire(before: now.clampedMinus(producerExpirationMilliseconds))
        // The producers after every batch below the new segment, saved with the rolled segment.
        let producers = state.producers
        ioThread.submit { [self] in
            do throws(ReservoirError) {
                try syncDirectoryIfNeeded()
                try old.syncAll()
                old.releaseDescriptors()
                groupCommit.markDurable(upTo: newBase)
                // Producer state is derived from the batches: without its snapshot the recovery
                // point stays behind, so that a crash replays the producers' batches again.
                do throws(ReservoirError) {
                    try saveProducers(producers, at: newBase)
                } catch {
                    logger.error(
                        "producer snapshot not written; recovery will replay this segment's batches",
                        metadata: ["offset": "\(newBase)", "error": "\(error)"])
                    return
                }
                if Int(newBase) > recoveryPointValue.load() {
                    recoveryPointValue.store(Int(newBase))
                    onRecoveryPoint(newBase)
                }
            } catch {
                // After a failed fsync the page cache may have dropped the data it could not write
                // (Linux clears the error once reported): no later append can be promised durable,
                // so the log refuses them until it is reopened and recovered.
                logger.error(
                    "flush of rolled segment failed; the log refuses appends until reopened",
                    metadata: ["segment": "\(old.files.log)", "error": "\(error)"])
                self.state.withLock { $0.failure = error }
            }
        }
        return segment
    }

    /// One fsync of everything written so far: returns the offset now durable.
    func flushOnce() throws(ReservoirError) -> Int64 {
        let (target, dirty) = state.withLock { state -> (Int64, [Segment]) in
            let target = Int64(end.load())
            let flushed = groupCommit.flushedOffset
            return (target, state.segments.filter { $0.nextOffset > flushed })
        }
        // Read after the lock: a roll that made one of these segments set the flag under it.
        let started = monotonicNanoseconds()
        try syncDirectoryIfNeeded()
        for segment in dirty { try segment.syncLog() }
        metrics.fsyncDuration.recordNanoseconds(Int64(monotonicNanoseconds() &- started))
        return target
    }

    /// Fsyncs the log's directory if a roll created a file since the last time.
    func syncDirectoryIfNeeded() throws(ReservoirError) {
        guard directoryNeedsSync.exchange(false, ordering: .acquiringAndReleasing) else { return }
        do throws(ReservoirError) { try FileSystem.syncDirectory(directory) } catch {
            directoryNeedsSync.store(true, ordering: .releasing)
            throw error
        }
    }

    /// Whether an append acknowledged as `acks` must wait for its fsync (the topic's `durable`
    /// flush policy makes every append wait). The first append that must also turns on space
    /// prepared ahead of the writer, under automatic preallocation (``startPreparingSpace()``).
    func needsFsync(_ acks: Acks) -> Bool {
        let needs = acks == .durable || flushesEveryAppend.load(ordering: .relaxed)
        if needs && !takesDurableAppends.load(ordering: .relaxed) { startPreparingSpace() }
        return needs
    }

    /// The first durable append: under automatic preallocation, the active segment gets space
    /// prepared ahead from now on, so that its fsyncs do not also commit a growing file's size.
    func startPreparingSpace() {
        guard takesDurableAppends.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        state.withLock { state in
            guard let preallocator, !state.closed, state.config.preallocateBytes == 0, let active = state.segments.last,
                !active.isPreallocating
            else { return }
            active.preallocate(on: preallocator, lookahead: Self.preallocationLookahead(state.config, durable: true))
        }
    }

    /// Returns once the appended `range` is acknowledged as `acks` asks: at once for `.buffered`,
    /// after its fsync (shared with concurrent appends) for `.durable`.
    func acknowledge(_ range: ClosedRange<Int64>, acks: Acks) throws(ReservoirError) {
        if needsFsync(acks) { try groupCommit.waitUntilDurable(range.upperBound + 1) }
    }

    /// As ``acknowledge(_:acks:)``, suspending (never blocking a cooperative thread) for the fsync.
    func acknowledge(_ range: ClosedRange<Int64>, acks: Acks) async throws {
        if needsFsync(acks) { try await groupCommit.durable(range.upperBound + 1) }
    }

    /// Calls `done` once the appended `range` is acknowledged as `acks` asks (or its flush failed).
    func whenAcknowledged(_ range: ClosedRange<Int64>, acks: Acks, _ done: @escaping @Sendable (ReservoirError?) -> Void) {
        if needsFsync(acks) { groupCommit.whenDurable(range.upperBound + 1, done) } else { done(nil) }
    }

    /// Encodes `records` with `encoder`, appends and acknowledges them: the log-level shortcut of
    /// the store's append pipeline, for the store's own topics and tests.
    @discardableResult
    func append(_ records: some Collection<Record>, encoder: RecordBatchEncoder, acks: Acks = .buffered) throws(ReservoirError)
        -> ClosedRange<Int64>
    {
        let summary = try encoder.encode(records, defaultTimestamp: wallClockMilliseconds())
        let range = try append(EncodedBatch(encoder, summary))
        try acknowledge(range, acks: acks)
        return range
    }

    /// Makes everything appended so far durable.
    func flush() throws(ReservoirError) {
        try groupCommit.waitUntilDurable(endOffset)
    }

}
