import Logging
import Synchronization

/// One partition: an append-only sequence of record batches in segment files, with offsets,
/// roll, flush, reads by offset and by time, and crash recovery.
///
/// Appends serialize on one lock that covers only offset assignment and the `pwrite` into the page
/// cache; encoding, compression and CRC happen before it, fsync after it (shared by
/// ``GroupCommit``). Readers take the lock only to pick a segment and then read the mapping
/// without it.
public final class PartitionLog: Sendable {
    public let directory: String

    private struct State {
        var config: LogConfig
        var segments: [Segment]
        var logStartOffset: Int64
        var closed = false
        var unflushedRecords = 0
        var flushScheduled = false
        var failure: ReservoirError?
    }

    private let state: Mutex<State>
    /// Whether the flush policy makes every append durable (read on every append, without the lock).
    private let flushesEveryAppend: Atomic<Bool>
    /// Serializes retention, compaction and record deletion on this log (appends never wait on it).
    private let maintenance = Mutex<Void>(())
    /// Runs the delayed removal of `.deleted` files.
    private let deleter: IOThread
    private let end: AtomicInt
    private let recoveryPointValue: AtomicInt
    private let ioThread: IOThread
    private let preallocator: IOThread?
    private let groupCommit: GroupCommit
    private let logger: Logger
    /// Told when the recovery point moves (after a rolled segment is fsync'd), to checkpoint it.
    private let onRecoveryPoint: @Sendable (Int64) -> Void
    /// Told when the log start offset moves, to checkpoint it; a deletion waits for it and is
    /// undone when it fails, so that deleted records never come back at the next open.
    private let onLogStart: @Sendable () throws(ReservoirError) -> Void
    /// Readers waiting for appends (`written`) or for durability (`durable`).
    private let observers = Mutex<[ObjectIdentifier: (wakeup: Wakeup, durable: Bool)]>([:])
    private let observerCount = Atomic<Int>(0)
    /// A roll created a file whose directory entry is not yet durable. The directory is fsync'd
    /// by the next flush (before anything in the new segment counts as durable) or by the rolled
    /// segment's background flush, not under the append lock.
    /// True at open too: recovery may have created or removed files.
    private let directoryNeedsSync = Atomic<Bool>(true)

    // MARK: Opening

    /// What opening found.
    public struct OpenReport: Sendable {
        public var recoveredSegments = 0
        public var truncatedBytes = 0
        public var removedSegments = 0
        public var removedFiles = 0
        /// Damage repaired at open (``Reservoir/Options/repairDamage``).
        public var repaired: [DamagedRange] = []
        /// Original files of repaired segments, kept in the partition's `quarantine/` folder.
        public var quarantinedFiles: [String] = []
    }

    public let openReport: OpenReport

    /// Offsets this partition cannot serve because their bytes are damaged or missing (found at
    /// open; empty for a sound log). Reads of them fail; maintenance leaves a damaged log alone.
    public let damage: [DamagedRange]

    /// Opens the log in `directory` (created when missing), recovering it as needed.
    ///
    /// - Parameters:
    ///   - logStartOffset: the checkpointed first offset; nil when no checkpoint names the partition.
    ///   - recoveryPoint: offsets below this were fsync'd with their indexes; segments wholly below
    ///     it are only sanity-checked, later ones are scanned batch by batch. Nil when unknown (no
    ///     checkpoint): everything is scanned, and only the last segment's tail may be cut.
    ///   - cleanShutdown: the store was closed cleanly: no scan, only index sanity checks, and
    ///     damage anywhere is kept and reported, never cut.
    init(
        directory: String,
        config: LogConfig,
        logStartOffset checkpointedLogStart: Int64?,
        recoveryPoint checkpointedRecoveryPoint: Int64?,
        cleanShutdown: Bool,
        repairDamage: Bool = false,
        ioThread: IOThread,
        preallocator: IOThread? = nil,
        deleter: IOThread? = nil,
        logger: Logger,
        onRecoveryPoint: @escaping @Sendable (Int64) -> Void = { _ in },
        onLogStart: @escaping @Sendable () throws(ReservoirError) -> Void = {}
    ) throws(ReservoirError) {
        try config.validate()
        self.directory = directory
        self.ioThread = ioThread
        self.deleter = deleter ?? ioThread
        self.onLogStart = onLogStart
        flushesEveryAppend = Atomic(config.flushPolicy == .always)
        self.preallocator = preallocator
        self.logger = logger
        self.onRecoveryPoint = onRecoveryPoint
        try FileSystem.createDirectoryDurably(directory)

        var report = OpenReport()
        let recoveryPoint = checkpointedRecoveryPoint ?? 0
        let (segments, damage, loadedStart) = try LogLoader.load(
            directory: directory, config: config, logStartOffset: checkpointedLogStart,
            recoveryPoint: checkpointedRecoveryPoint, cleanShutdown: cleanShutdown, repair: repairDamage, report: &report,
            logger: logger)
        self.damage = damage
        let logStartOffset = loadedStart ?? 0
        let nextOffset = segments.last?.nextOffset ?? logStartOffset
        let firstBase = segments.first?.baseOffset ?? logStartOffset
        // A checkpointed start below the first segment is damage (segments missing): it stays, so
        // that reads of the missing offsets fail and the next open finds the damage again.
        let start = logStartOffset > nextOffset ? firstBase
            : loadedStart == nil ? max(logStartOffset, firstBase) : logStartOffset
        // What recovery scanned may have been in the page cache only (the crash may have come
        // before a rolled segment's fsync): make it durable, indexes too, before anyone reads it
        // as durable and before the recovery point below claims it.
        if !cleanShutdown {
            for segment in segments where segment.nextOffset > recoveryPoint || segment === segments.last {
                try segment.syncAll()
                if segment !== segments.last { segment.releaseDescriptors() }
            }
        }
        if let preallocator, let active = segments.last {
            active.preallocate(on: preallocator, lookahead: min(config.preallocateBytes, config.segmentBytes))
        }
        segments.last?.restoreRollClock(now: wallClockMilliseconds())
        var initial = State(config: config, segments: segments, logStartOffset: start)
        // Appending after damage at the end of the log would give new records offsets that lost
        // ones had (or write after bytes an operator must see): refused until repaired.
        if let last = damage.last, last.endOffset == nil || segments.last?.isDamaged == true
            || (last.endOffset ?? 0) > (segments.last?.nextOffset ?? 0)
        {
            initial.failure = ReservoirError(.corruptData, "\(LogLoader.label(directory)) is damaged at its end (\(last)); appends are refused until `reservoir verify --repair`")
        }
        state = Mutex(initial)
        end = AtomicInt(Int(nextOffset))
        // A recovery point past the end (durable offsets missing) is kept for the next open to see.
        recoveryPointValue = AtomicInt(Int(damage.isEmpty ? nextOffset : max(nextOffset, recoveryPoint)))
        openReport = report

        let holder = LogReference()
        groupCommit = GroupCommit(flushed: nextOffset, ioThread: ioThread, onAdvance: { holder.log?.signalObservers(durable: true) }) {
            () throws(ReservoirError) -> Int64 in
            try holder.log?.flushOnce() ?? 0
        }
        holder.log = self
    }

    /// Lets the group-commit closure reach the log without a retain cycle at init time.
    private final class LogReference: @unchecked Sendable {
        // Set once in init before any flush can run, then only read.
        weak var log: PartitionLog?
    }

    // MARK: Offsets

    /// The offset the next appended record gets (Kafka's log end offset).
    public var endOffset: Int64 { Int64(end.load()) }
    /// Offsets below this are fsync'd.
    public var durableEndOffset: Int64 { min(groupCommit.flushedOffset, endOffset) }
    /// The first offset still in the log.
    public var startOffset: Int64 { state.withLock { $0.logStartOffset } }
    /// How the log lays out and flushes its segments.
    public var config: LogConfig { state.withLock { $0.config } }

    /// Changes the layout and flush settings; they apply from the next append (segment sizes from
    /// the next roll).
    func update(config: LogConfig) throws(ReservoirError) {
        try config.validate()
        state.withLock { $0.config = config }
        flushesEveryAppend.store(config.flushPolicy == .always, ordering: .relaxed)
    }
    /// Offsets below this (and their indexes) are known to be on disk.
    public var recoveryPoint: Int64 { Int64(recoveryPointValue.load()) }

    /// Facts about the segments, for `describe` and tests.
    public struct SegmentInfo: Sendable, Hashable {
        public var baseOffset: Int64
        public var nextOffset: Int64
        public var bytes: Int
        public var indexEntries: Int
        public var timeIndexEntries: Int
        public var maxTimestamp: Int64
    }

    public var segments: [SegmentInfo] {
        state.withLock { state in
            state.segments.map {
                SegmentInfo(baseOffset: $0.baseOffset, nextOffset: $0.nextOffset, bytes: $0.size,
                            indexEntries: $0.offsetIndex.entryCount, timeIndexEntries: $0.timeIndex.entryCount,
                            maxTimestamp: $0.maxTimestamp)
            }
        }
    }

    /// Total bytes of all segments.
    public var sizeInBytes: Int { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }

    // MARK: Appending

    /// Appends the batch last encoded by `encoder`, assigning its offsets. Returns the first and
    /// last offset. The batch's base offset is stamped in place (it lies outside the CRC).
    public func append(_ encoder: RecordBatchEncoder, summary: RecordBatchEncoder.Summary, acks: Acks) throws(ReservoirError) -> ClosedRange<Int64> {
        let range = try appendBuffered(encoder.output.base, summary: summary)
        if needsFsync(acks) { try groupCommit.waitUntilDurable(range.upperBound + 1) }
        return range
    }

    /// As ``append(_:summary:acks:)``, suspending (never blocking a cooperative thread) for the fsync.
    public func append(_ encoder: RecordBatchEncoder, summary: RecordBatchEncoder.Summary, acks: Acks) async throws -> ClosedRange<Int64> {
        let range = try appendBuffered(encoder.output.base, summary: summary)
        if needsFsync(acks) { try await waitUntilDurable(range.upperBound + 1) }
        return range
    }

    /// Encodes `records` with `encoder` and appends them.
    @discardableResult
    public func append(_ records: some Collection<Record>, encoder: RecordBatchEncoder, acks: Acks = .buffered) throws(ReservoirError) -> ClosedRange<Int64> {
        let summary = try encoder.encode(records, defaultTimestamp: wallClockMilliseconds())
        return try append(encoder, summary: summary, acks: acks)
    }

    /// Writes one encoded batch at `batch` (mutable: its base offset is stamped) into the page cache.
    func appendBuffered(_ batch: UnsafeMutableRawPointer, summary: RecordBatchEncoder.Summary) throws(ReservoirError) -> ClosedRange<Int64> {
        let count = Int64(summary.recordCount)
        let bytes = UnsafeRawBufferPointer(start: batch, count: summary.byteCount)
        let now = wallClockMilliseconds()
        let (range, flush) = try state.withLock { (state) throws(ReservoirError) -> (ClosedRange<Int64>, Bool) in
            if let failure = state.failure { throw failure }
            guard !state.closed else { throw ReservoirError(.closed, "log \(directory) is closed") }
            let config = state.config
            guard summary.byteCount <= config.segmentBytes else {
                throw ReservoirError(.recordTooLarge, "batch of \(summary.byteCount) bytes is larger than the segment size \(config.segmentBytes)")
            }
            var active = state.segments[state.segments.count - 1]
            let base = active.nextOffset
            let last = base + count - 1
            BigEndian.store(base, batch, RecordBatchHeader.Field.baseOffset)
            if !active.canAppend(bytes: summary.byteCount, lastOffset: last, segmentBytes: config.segmentBytes)
                || (!active.isEmpty && now.clampedMinus(active.createdAt) >= config.segmentMs)
            {
                active = try roll(&state, newBase: base, now: now)
            }
            do throws(ReservoirError) {
                try active.append(bytes, lastOffset: last, maxTimestamp: summary.maxTimestamp,
                                  offsetOfMaxTimestamp: last, now: now)
            } catch {
                // A failed write (disk full) may leave a partial batch: cut it off so the log stays valid.
                try? active.truncateTail()
                throw error
            }
            end.store(Int(last + 1))
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
        return range
    }

    /// Starts a new active segment at `newBase`; the old one is trimmed now and fsync'd on the
    /// I/O thread, after which the recovery point moves past it.
    private func roll(_ state: inout State, newBase: Int64, now: Int64) throws(ReservoirError) -> Segment {
        let old = state.segments[state.segments.count - 1]
        if old.isEmpty && old.baseOffset == newBase { return old }
        let config = state.config
        try old.finish()
        let segment = try Segment(
            files: SegmentFiles(directory: directory, baseOffset: newBase), active: true, capacity: config.segmentBytes,
            indexIntervalBytes: config.indexIntervalBytes, maxIndexBytes: config.maxIndexBytes, now: now)
        if let preallocator {
            segment.preallocate(on: preallocator, lookahead: min(config.preallocateBytes, config.segmentBytes))
        }
        state.segments.append(segment)
        directoryNeedsSync.store(true, ordering: .releasing)
        ioThread.submit { [self] in
            do throws(ReservoirError) {
                try syncDirectoryIfNeeded()
                try old.syncAll()
                old.releaseDescriptors()
                groupCommit.markDurable(upTo: newBase)
                if Int(newBase) > recoveryPointValue.load() {
                    recoveryPointValue.store(Int(newBase))
                    onRecoveryPoint(newBase)
                }
            } catch {
                // After a failed fsync the page cache may have dropped the data it could not write
                // (Linux clears the error once reported): no later append can be promised durable,
                // so the log refuses them until it is reopened and recovered.
                logger.error("flush of rolled segment failed; the log refuses appends until reopened",
                             metadata: ["segment": "\(old.files.log)", "error": "\(error)"])
                self.state.withLock { $0.failure = error }
            }
        }
        return segment
    }

    /// One fsync of everything written so far: returns the offset now durable.
    private func flushOnce() throws(ReservoirError) -> Int64 {
        let (target, dirty) = state.withLock { state -> (Int64, [Segment]) in
            let target = Int64(end.load())
            let flushed = groupCommit.flushedOffset
            return (target, state.segments.filter { $0.nextOffset > flushed })
        }
        // Read after the lock: a roll that made one of these segments set the flag under it.
        try syncDirectoryIfNeeded()
        for segment in dirty { try segment.syncLog() }
        return target
    }

    /// Fsyncs the log's directory if a roll created a file since the last time.
    private func syncDirectoryIfNeeded() throws(ReservoirError) {
        guard directoryNeedsSync.exchange(false, ordering: .acquiringAndReleasing) else { return }
        do throws(ReservoirError) { try FileSystem.syncDirectory(directory) } catch {
            directoryNeedsSync.store(true, ordering: .releasing)
            throw error
        }
    }

    /// Whether an append acknowledged as `acks` must wait for its fsync (the topic's `durable`
    /// flush policy makes every append wait).
    func needsFsync(_ acks: Acks) -> Bool {
        acks == .durable || flushesEveryAppend.load(ordering: .relaxed)
    }

    /// Suspends until offsets below `target` are durable, sharing the fsync with other appends.
    func waitUntilDurable(_ target: Int64) async throws {
        try await groupCommit.durable(target)
    }

    /// Calls `done` once offsets below `target` are durable (or the flush failed).
    func whenDurable(_ target: Int64, _ done: @escaping @Sendable (ReservoirError?) -> Void) {
        groupCommit.whenDurable(target, done)
    }

    /// Makes everything appended so far durable.
    public func flush() throws(ReservoirError) {
        try groupCommit.waitUntilDurable(endOffset)
    }

    // MARK: Reading

    /// Reads whole batches from `offset`, up to about `maxBytes` (at least one batch).
    ///
    /// - Throws: ``ReservoirError/Code/offsetOutOfRange`` for an offset below the log start or above the end.
    /// - Returns: an empty result at the end of the log.
    public func read(from offset: Int64, maxBytes: Int = 1 << 20, isolation: ReadIsolation = .written) throws(ReservoirError) -> LogReadResult {
        let limit = isolation == .durable ? durableEndOffset : endOffset
        let (first, start) = state.withLock { state -> (Segment, Int64) in
            (state.segments[Self.segmentIndex(state.segments, containing: offset)], state.logStartOffset)
        }
        guard offset >= start else {
            throw ReservoirError(.offsetOutOfRange, "offset \(offset) is below the log start offset \(start) of \(directory)")
        }
        if let damaged = damage.first(where: { $0.contains(offset) }) {
            throw ReservoirError(.corruptData, "\(LogLoader.label(directory)): offset \(offset) cannot be read: damaged \(damaged); run `reservoir verify --repair` to keep what is intact")
        }
        guard offset <= limit else {
            throw ReservoirError(.offsetOutOfRange, "offset \(offset) is beyond the log end offset \(limit) of \(directory)")
        }
        var result = LogReadResult(batches: [], requestedOffset: offset, nextOffset: offset, endOffset: limit, startOffset: start)
        guard offset < limit else { return result }
        // Usually the first segment serves the read; one that ends before `offset` (a gap left by
        // compaction, an empty segment) passes it on to the next.
        var segment: Segment? = first
        while let current = segment, current.baseOffset < limit {
            if var batches = try current.read(from: offset, maxBytes: maxBytes) {
                batches.removeAll { $0.baseOffset >= limit }
                if let last = batches.last {
                    result.batches = batches
                    result.nextOffset = last.nextOffset
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

    // MARK: Maintenance

    /// What a maintenance step removed from the log.
    public struct Removal: Sendable, Hashable {
        /// Segments removed whole.
        public var segments = 0
        /// Their bytes.
        public var bytes = 0
        /// Records in them.
        public var records = 0

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
    public func deleteOldSegments(
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
                state.logStartOffset = max(state.logStartOffset, segments[count].baseOffset)
                state.segments.removeFirst(count)
                return (Array(segments[..<count]), previousStart)
            }
            guard !removed.isEmpty else { return Removal() }
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
    public func deleteRecords(before offset: Int64, deleteDelayMs: Int64 = 60_000) throws(ReservoirError) -> Removal {
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
    public func rollIfDue(now: Int64? = nil) throws(ReservoirError) -> Bool {
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
    func segmentsForCleaning() -> (segments: [Segment], logStart: Int64) {
        let recoveryPoint = self.recoveryPoint
        return state.withLock { state in
            // Compaction rewrites segments: never those of a damaged log, whose bytes an operator
            // must see, nor while a failed swap waits for the next open to finish it.
            guard damage.isEmpty, !swapUnfinished.load(ordering: .acquiring) else { return ([], state.logStartOffset) }
            return (Array(state.segments.dropLast().prefix { $0.nextOffset <= recoveryPoint }), state.logStartOffset)
        }
    }

    /// Runs `body` with the log's maintenance lock held (no retention or record deletion meanwhile).
    func withMaintenanceLock<R>(_ body: () throws(ReservoirError) -> R) throws(ReservoirError) -> R {
        try maintenance.withLock { _ throws(ReservoirError) -> R in try body() }
    }

    /// Where a crash is simulated in ``replaceSegments(_:deleteDelayMs:)`` (tests only).
    enum SwapStep: Int, Sendable {
        case cleanedWritten = 1, someSwapped, allSwapped, oldDeleted, someInstalled
    }
    /// Stops the next swap at this step, leaving the files as a crash there would (tests only).
    let swapFailpoint = Atomic<Int>(0)
    /// A swap failed past its point of no return: no more compaction until the log is reopened.
    private let swapUnfinished = Atomic<Bool>(false)

    /// One group of segments and the `.cleaned` log file that replaces it, named for the
    /// group's first base offset.
    struct CleanedGroup {
        var old: [Segment]
        var base: Int64 { old[0].baseOffset }
    }

    /// Swaps cleaned segments in, crash-safely, in Kafka's order: every `.cleaned` file (written
    /// and fsync'd) is renamed `.swap`, the directory fsync'd; the old segments are renamed
    /// `.deleted`; the `.swap` files are renamed into place, the directory fsync'd. A crash at
    /// any point leaves a state the next open finishes or undoes (``completeInterruptedSwap``).
    /// Appends never wait on this; readers holding old segments keep reading them.
    ///
    /// Must be called with the maintenance lock held. Returns false when a test failpoint stopped it.
    func replaceSegments(_ groups: [CleanedGroup], deleteDelayMs: Int64) throws(ReservoirError) -> Bool {
        let stop = SwapStep(rawValue: swapFailpoint.exchange(0, ordering: .relaxed))
        if stop == .cleanedWritten { return false }
        let descending = groups.sorted { $0.base > $1.base }
        // Before the point of no return (every `.swap` file durable), a failure is undone: the
        // `.swap` files go back to `.cleaned`, which the cleaner then removes, so that the disk
        // never holds some `.swap` files without a `.cleaned` one (recovery would install them:
        // part of a clean). A crash during the undo leaves a `.cleaned` file: rolled back at open.
        var renamed: [SegmentFiles] = []
        do throws(ReservoirError) {
            for (index, group) in descending.enumerated() {
                let files = SegmentFiles(directory: directory, baseOffset: group.base)
                try FileSystem.rename(files.log + SegmentFiles.cleanedSuffix, to: files.log + SegmentFiles.swapSuffix)
                renamed.append(files)
                if stop == .someSwapped && index == 0 { return false }
            }
            try FileSystem.syncDirectory(directory)
        } catch {
            for files in renamed.reversed() {
                do throws(ReservoirError) { try FileSystem.rename(files.log + SegmentFiles.swapSuffix, to: files.log + SegmentFiles.cleanedSuffix) } catch {
                    logger.error("undoing a failed compaction swap failed; the next open finishes or undoes it",
                                 metadata: ["file": "\(files.log)", "error": "\(error)"])
                }
            }
            throw error
        }
        if stop == .allSwapped { return false }
        // Past the point of no return: the next open installs the cleaned segments whatever
        // happens now. A failure stops compaction of this log until then (its files are between
        // the two states); reads and appends go on from the segments in memory.
        do throws(ReservoirError) {
            for group in groups {
                for segment in group.old { try segment.files.rename(addingSuffix: SegmentFiles.deletedSuffix) }
            }
            if stop == .oldDeleted { return false }
            for (index, group) in descending.enumerated() {
                let files = SegmentFiles(directory: directory, baseOffset: group.base)
                try FileSystem.rename(files.log + SegmentFiles.swapSuffix, to: files.log)
                if stop == .someInstalled && index == 0 { return false }
            }
            try FileSystem.syncDirectory(directory)
        } catch {
            swapUnfinished.store(true, ordering: .releasing)
            logger.error("a compaction swap failed past its point of no return; the next open completes it", metadata: ["error": "\(error)"])
            throw error
        }

        // Open the new segments and build their indexes before readers see them.
        let config = self.config
        let now = wallClockMilliseconds()
        var replacements: [(old: [Segment], new: Segment)] = []
        for group in groups {
            let segment = try Segment(files: SegmentFiles(directory: directory, baseOffset: group.base), active: false,
                                      capacity: config.segmentBytes, indexIntervalBytes: config.indexIntervalBytes,
                                      maxIndexBytes: config.maxIndexBytes, now: now)
            let result = try segment.recover(expectedFirstOffset: group.base)
            if result.truncatedBytes > 0 {
                logger.error("a cleaned segment did not scan whole", metadata: ["segment": "\(segment.files.log)", "reason": "\(result.reason ?? "")"])
            }
            try segment.finish()
            try segment.syncAll()
            segment.releaseDescriptors()
            replacements.append((group.old, segment))
        }
        state.withLock { state in
            for (old, new) in replacements {
                guard let first = state.segments.firstIndex(where: { $0 === old[0] }) else { continue }
                state.segments.replaceSubrange(first..<(first + old.count), with: [new])
            }
        }
        let retired = groups.flatMap(\.old).map(\.files)
        deleter.schedule(afterNanoseconds: timerNanoseconds(milliseconds: deleteDelayMs)) { [logger] in
            for file in retired {
                do throws(ReservoirError) { try file.removeAll(suffix: SegmentFiles.deletedSuffix) } catch {
                    logger.warning("removing a cleaned-away segment failed", metadata: ["segment": "\(file.log)", "error": "\(error)"])
                }
            }
        }
        return true
    }

    // MARK: Waiting for appends

    /// Signals `wakeup` after every append (or, with `durable`, whenever the durable end
    /// offset may have moved) and when the log closes, until ``removeObserver(_:)``.
    public func addObserver(_ wakeup: Wakeup, durable: Bool = false) {
        let added = observers.withLock { $0.updateValue((wakeup, durable), forKey: ObjectIdentifier(wakeup)) == nil }
        if added { observerCount.add(1, ordering: .relaxed) }
    }

    public func removeObserver(_ wakeup: Wakeup) {
        let removed = observers.withLock { $0.removeValue(forKey: ObjectIdentifier(wakeup)) != nil }
        if removed { observerCount.subtract(1, ordering: .relaxed) }
    }

    fileprivate func signalObservers(durable: Bool, all: Bool = false) {
        let targets = observers.withLock { observers in
            observers.values.filter { all || $0.durable == durable }.map(\.wakeup)
        }
        for wakeup in targets { wakeup.signal() }
    }

    /// Whether the log was closed (its store closed): readers end.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: Closing

    /// Flushes, trims the active segment's indexes and refuses further appends.
    func close() throws(ReservoirError) {
        let active = state.withLock { state -> Segment? in
            if state.closed { return nil }
            state.closed = true
            return state.segments.last
        }
        signalObservers(durable: false, all: true)
        guard let active else { return }
        try active.finish()
        try syncDirectoryIfNeeded()
        try active.syncAll()
        // Past the end only when durable offsets are missing: kept so the next open sees it again.
        recoveryPointValue.store(max(end.load(), recoveryPointValue.load()))
    }
}
