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
    public let config: LogConfig

    private struct State {
        var segments: [Segment]
        var logStartOffset: Int64
        var closed = false
        var unflushedRecords = 0
        var flushScheduled = false
        var failure: ReservoirError?
    }

    private let state: Mutex<State>
    private let end: AtomicInt
    private let recoveryPointValue: AtomicInt
    private let ioThread: IOThread
    private let preallocator: IOThread?
    private let groupCommit: GroupCommit
    private let logger: Logger
    /// Told when the recovery point moves (after a rolled segment is fsync'd), to checkpoint it.
    private let onRecoveryPoint: @Sendable (Int64) -> Void

    // MARK: Opening

    /// What opening found.
    public struct OpenReport: Sendable {
        public var recoveredSegments = 0
        public var truncatedBytes = 0
        public var removedSegments = 0
        public var removedFiles = 0
    }

    public let openReport: OpenReport

    /// Opens the log in `directory` (created when missing), recovering it as needed.
    ///
    /// - Parameters:
    ///   - recoveryPoint: offsets below this were fsync'd with their indexes; segments wholly below
    ///     it are only sanity-checked, later ones are scanned batch by batch.
    ///   - cleanShutdown: the store was closed cleanly: no scan, only index sanity checks.
    init(
        directory: String,
        config: LogConfig,
        logStartOffset: Int64,
        recoveryPoint: Int64,
        cleanShutdown: Bool,
        ioThread: IOThread,
        preallocator: IOThread? = nil,
        logger: Logger,
        onRecoveryPoint: @escaping @Sendable (Int64) -> Void = { _ in }
    ) throws(ReservoirError) {
        try config.validate()
        self.directory = directory
        self.config = config
        self.ioThread = ioThread
        self.preallocator = preallocator
        self.logger = logger
        self.onRecoveryPoint = onRecoveryPoint
        try FileSystem.createDirectory(directory)

        var report = OpenReport()
        let segments = try Self.load(
            directory: directory, config: config, logStartOffset: logStartOffset, recoveryPoint: recoveryPoint,
            cleanShutdown: cleanShutdown, report: &report, logger: logger)
        let nextOffset = segments.last?.nextOffset ?? logStartOffset
        let firstBase = segments.first?.baseOffset ?? logStartOffset
        let start = logStartOffset > nextOffset ? firstBase : max(logStartOffset, firstBase)
        // What recovery scanned may have been in the page cache only (the crash may have come
        // before a rolled segment's fsync): make it durable, indexes too, before anyone reads it
        // as durable and before the recovery point below claims it.
        if !cleanShutdown {
            for segment in segments where segment.nextOffset > recoveryPoint || segment === segments.last {
                try segment.syncAll()
            }
        }
        if let preallocator, let active = segments.last {
            active.preallocate(on: preallocator, lookahead: min(config.preallocateBytes, config.segmentBytes))
        }
        state = Mutex(State(segments: segments, logStartOffset: start))
        end = AtomicInt(Int(nextOffset))
        recoveryPointValue = AtomicInt(Int(nextOffset))
        openReport = report

        let holder = LogReference()
        groupCommit = GroupCommit(flushed: nextOffset, ioThread: ioThread) { () throws(ReservoirError) -> Int64 in
            try holder.log?.flushOnce() ?? 0
        }
        holder.log = self
    }

    /// Lets the group-commit closure reach the log without a retain cycle at init time.
    private final class LogReference: @unchecked Sendable {
        // Set once in init before any flush can run, then only read.
        weak var log: PartitionLog?
    }

    private static func load(
        directory: String, config: LogConfig, logStartOffset: Int64, recoveryPoint: Int64,
        cleanShutdown: Bool, report: inout OpenReport, logger: Logger
    ) throws(ReservoirError) -> [Segment] {
        let now = wallClockMilliseconds()
        var logs: [Int64] = []
        var indexFiles: [(Int64, String)] = []
        for name in try FileSystem.list(directory) {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") || name.hasSuffix(".deleted") || name.hasSuffix(".cleaned") || name.hasSuffix(".swap") {
                try FileSystem.remove(path)
                report.removedFiles += 1
                continue
            }
            guard let (base, suffix) = SegmentFiles.parse(name) else { continue }
            switch suffix {
            case SegmentFiles.logSuffix: logs.append(base)
            case SegmentFiles.indexSuffix, SegmentFiles.timeIndexSuffix: indexFiles.append((base, path))
            default: break
            }
        }
        let logSet = Set(logs)
        for (base, path) in indexFiles where !logSet.contains(base) {
            try FileSystem.remove(path)
            report.removedFiles += 1
        }
        logs.sort()

        func open(_ base: Int64, active: Bool) throws(ReservoirError) -> Segment {
            try Segment(files: SegmentFiles(directory: directory, baseOffset: base), active: active,
                        capacity: config.segmentBytes, indexIntervalBytes: config.indexIntervalBytes,
                        maxIndexBytes: config.maxIndexBytes, now: now)
        }

        var segments: [Segment] = []
        var expectedNext = logStartOffset
        var index = 0
        while index < logs.count {
            let base = logs[index]
            let isLast = index == logs.count - 1
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let indexesMissing = !FileSystem.exists(files.index) || !FileSystem.exists(files.timeIndex)
            let segment = try open(base, active: isLast)
            let wholeBelowRecoveryPoint = !isLast && logs[index + 1] <= recoveryPoint
            var needsScan = !(cleanShutdown || wholeBelowRecoveryPoint) || indexesMissing
            if !needsScan {
                if let reason = segment.loadWithoutScan() {
                    logger.warning("rebuilding index", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
                    needsScan = true
                } else if !segment.isEmpty && segment.timeIndex.entryCount == 0 {
                    needsScan = true
                }
            }
            if needsScan {
                let result = try segment.recover(expectedFirstOffset: min(expectedNext, base))
                report.recoveredSegments += 1
                if result.truncatedBytes > 0 {
                    report.truncatedBytes += result.truncatedBytes
                    logger.warning("truncated log", metadata: [
                        "segment": "\(files.log)", "bytes": "\(result.truncatedBytes)", "reason": "\(result.reason ?? "")",
                    ])
                    // Everything after the first invalid byte is unacknowledged or corrupt.
                    for later in logs[(index + 1)...] {
                        try SegmentFiles(directory: directory, baseOffset: later).removeAll()
                        report.removedSegments += 1
                    }
                    logs.removeSubrange((index + 1)...)
                }
            }
            segments.append(segment)
            expectedNext = max(expectedNext, segment.nextOffset)
            index += 1
        }

        // The last segment must be writable: reopen it active if it was opened for reading only.
        // (It was opened for reading when truncation removed the segments after it.)
        if let last = segments.last, !last.isActive {
            try last.finish()
            let reopened = try open(last.baseOffset, active: true)
            if let reason = reopened.loadWithoutScan() {
                logger.warning("rebuilding index", metadata: ["segment": "\(reopened.files.log)", "reason": "\(reason)"])
                _ = try reopened.recover(expectedFirstOffset: last.baseOffset)
            }
            segments[segments.count - 1] = reopened
        }
        for segment in segments.dropLast() where segment.offsetIndex.storage.maxEntries > segment.offsetIndex.entryCount {
            try segment.finish()
        }

        // A log start beyond the log's end means segments were deleted by hand or the checkpoint
        // is damaged. Kafka deletes the rest; a damaged checkpoint must not cost data, so the
        // segments are kept and the log start falls back to them.
        if let last = segments.last, last.nextOffset < logStartOffset {
            logger.warning("log start offset beyond the log end; keeping the segments", metadata: [
                "logStartOffset": "\(logStartOffset)", "logEndOffset": "\(last.nextOffset)",
            ])
        }
        if segments.isEmpty {
            segments = [try open(logStartOffset, active: true)]
        }
        return segments
    }

    // MARK: Offsets

    /// The offset the next appended record gets (Kafka's log end offset).
    public var endOffset: Int64 { Int64(end.load()) }
    /// Offsets below this are fsync'd.
    public var durableEndOffset: Int64 { min(groupCommit.flushedOffset, endOffset) }
    /// The first offset still in the log.
    public var startOffset: Int64 { state.withLock { $0.logStartOffset } }
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
        guard summary.byteCount <= config.segmentBytes else {
            throw ReservoirError(.recordTooLarge, "batch of \(summary.byteCount) bytes is larger than the segment size \(config.segmentBytes)")
        }
        let now = wallClockMilliseconds()
        let (range, flush) = try state.withLock { (state) throws(ReservoirError) -> (ClosedRange<Int64>, Bool) in
            if let failure = state.failure { throw failure }
            guard !state.closed else { throw ReservoirError(.closed, "log \(directory) is closed") }
            var active = state.segments[state.segments.count - 1]
            let base = active.nextOffset
            let last = base + count - 1
            BigEndian.store(base, batch, RecordBatchHeader.Field.baseOffset)
            if !active.canAppend(bytes: summary.byteCount, lastOffset: last, segmentBytes: config.segmentBytes) {
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
                ioThread.schedule(afterNanoseconds: UInt64(ms) * 1_000_000) { [self] in
                    self.state.withLock { $0.flushScheduled = false }
                    groupCommit.flushInBackground()
                }
            default: break
            }
            return (base...last, flush)
        }
        if flush { groupCommit.flushInBackground() }
        return range
    }

    /// Starts a new active segment at `newBase`; the old one is trimmed now and fsync'd on the
    /// I/O thread, after which the recovery point moves past it.
    private func roll(_ state: inout State, newBase: Int64, now: Int64) throws(ReservoirError) -> Segment {
        let old = state.segments[state.segments.count - 1]
        if old.isEmpty && old.baseOffset == newBase { return old }
        try old.finish()
        let segment = try Segment(
            files: SegmentFiles(directory: directory, baseOffset: newBase), active: true, capacity: config.segmentBytes,
            indexIntervalBytes: config.indexIntervalBytes, maxIndexBytes: config.maxIndexBytes, now: now)
        if let preallocator {
            segment.preallocate(on: preallocator, lookahead: min(config.preallocateBytes, config.segmentBytes))
        }
        state.segments.append(segment)
        try FileSystem.syncDirectory(directory)
        ioThread.submit { [self] in
            do throws(ReservoirError) {
                try old.syncAll()
                groupCommit.markDurable(upTo: newBase)
                if Int(newBase) > recoveryPointValue.load() {
                    recoveryPointValue.store(Int(newBase))
                    onRecoveryPoint(newBase)
                }
            } catch {
                logger.error("flush of rolled segment failed", metadata: ["segment": "\(old.files.log)", "error": "\(error)"])
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
        for segment in dirty { try segment.syncLog() }
        return target
    }

    /// Whether an append acknowledged as `acks` must wait for its fsync (the topic's `durable`
    /// flush policy makes every append wait).
    func needsFsync(_ acks: Acks) -> Bool {
        acks == .durable || config.flushPolicy == .always
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

    // MARK: Closing

    /// Flushes, trims the active segment's indexes and refuses further appends.
    func close() throws(ReservoirError) {
        let active = state.withLock { state -> Segment? in
            if state.closed { return nil }
            state.closed = true
            return state.segments.last
        }
        guard let active else { return }
        try active.finish()
        try active.syncAll()
        recoveryPointValue.store(end.load())
    }
}
