import CoreMetrics
import Logging
import Synchronization

/// One partition: an append-only sequence of record batches in segment files, with offsets,
/// roll, flush, reads by offset and by time, and crash recovery.
///
/// Applications get one from ``Reservoir/log(topic:partition:)`` to read and to look at offsets,
/// segments and damage; appends, retention and compaction reach it only through the store.
///
/// Appends serialize on one lock that covers only offset assignment and the `pwrite` into the page
/// cache; encoding, compression and CRC happen before it, fsync after it (shared by
/// `GroupCommit`). Readers take the lock only to pick a segment and then read the mapping
/// without it.
public final class PartitionLog: Sendable {
    /// The partition's directory (`…/topics/<topic>/<partition>`).
    public let directory: String

    struct State {
        var config: LogConfig
        var segments: [Segment]
        var logStartOffset: Int64
        var closed = false
        var unflushedRecords = 0
        var flushScheduled = false
        var failure: ReservoirError?
        /// Idempotent producers' sequences, updated with every append of theirs.
        var producers = ProducerStateTable()
    }

    let state: Mutex<State>
    /// Whether the flush policy makes every append durable (read on every append, without the lock).
    let flushesEveryAppend: Atomic<Bool>
    /// Set by the first append that waits for its fsync: with `preallocateBytes` 0 (automatic),
    /// the active segment and those after it then get space prepared ahead of the writer.
    let takesDurableAppends = Atomic<Bool>(false)

    /// The space prepared ahead of the writer when `preallocateBytes` is 0 (automatic) and the
    /// partition takes durable appends: enough that the filler stays ahead of a disk's fsync rate
    /// without holding much page cache per partition.
    static let automaticPreallocationBytes = 4 << 20

    /// How far ahead of the writer the space of an active segment is prepared under `config`,
    /// for a partition that takes durable appends or not.
    static func preallocationLookahead(_ config: LogConfig, durable: Bool) -> Int {
        if config.preallocateBytes > 0 { return min(config.preallocateBytes, config.segmentBytes) }
        guard config.preallocateBytes == 0, durable else { return 0 }
        return min(automaticPreallocationBytes, config.segmentBytes)
    }
    /// Serializes retention, compaction and record deletion on this log (appends never wait on it).
    let maintenance = Mutex<Void>(())
    /// Runs the delayed removal of `.deleted` files.
    let deleter: IOThread
    let end: AtomicInt
    let recoveryPointValue: AtomicInt
    let ioThread: IOThread
    let preallocator: IOThread?
    let groupCommit: GroupCommit
    let logger: Logger
    /// Told when the recovery point moves (after a rolled segment is fsync'd), to checkpoint it.
    let onRecoveryPoint: @Sendable (Int64) -> Void
    /// How long an idempotent producer is remembered after its last batch (ms).
    let producerExpirationMilliseconds: Int64
    /// Told when the log start offset moves, to checkpoint it; a deletion waits for it and is
    /// undone when it fails, so that deleted records never come back at the next open.
    let onLogStart: @Sendable () throws(ReservoirError) -> Void
    /// Readers waiting for appends (`written`) or for durability (`durable`).
    let observers = Mutex<[ObjectIdentifier: (wakeup: Wakeup, durable: Bool)]>([:])
    let observerCount = Atomic<Int>(0)
    /// A swap failed and left its files for the next open to resolve: no more compaction (and no
    /// removal of its `.cleaned` files) until the log is reopened.
    let swapUnfinished = Atomic<Bool>(false)
    /// A roll created a file whose directory entry is not yet durable. The directory is fsync'd
    /// by the next flush (before anything in the new segment counts as durable) or by the rolled
    /// segment's background flush, not under the append lock.
    /// True at open too: recovery may have created or removed files.
    let directoryNeedsSync = Atomic<Bool>(true)
    /// Where this log, when this process writes it, publishes its ends and segments to read-only
    /// processes (nil when nobody can follow it: tests, tools).
    let live: LiveSlot?
    /// What this log, when opened by a read-only process, follows of the writer's (nil for the
    /// writer's own log).
    let follower: LogFollower?
    let metrics: LogMetrics

    // MARK: Opening

    /// What opening found.
    public struct OpenReport: Sendable {
        /// Segments scanned batch by batch.
        public var recoveredSegments = 0
        /// Bytes of unsynced tail cut.
        public var truncatedBytes = 0
        /// Segments removed: a tail never acknowledged as durable, cut after an unclean stop.
        public var removedSegments = 0
        /// Files removed: leftovers of an interrupted swap or deletion, and removed segments' files.
        public var removedFiles = 0
        /// Damage repaired at open (``Reservoir/Options/repairDamage``).
        public var repaired: [DamagedRange] = []
        /// Original files of repaired segments, kept in the partition's `quarantine/` folder.
        public var quarantinedFiles: [String] = []
    }

    /// What opening this log found and did.
    public let openReport: OpenReport

    /// Offsets this partition cannot serve because their bytes are damaged or missing (found at
    /// open; empty for a sound log). Reads of them fail; maintenance leaves a damaged log alone.
    /// In a read-only store, the damage of the segments as last mapped.
    public var damage: [DamagedRange] {
        if let follower { return follower.damage.withLock { $0 } }
        return loadedDamage
    }

    /// The damage the writer's open found and kept.
    private let loadedDamage: [DamagedRange]

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
        producerExpirationMilliseconds: Int64 = 86_400_000,
        ioThread: IOThread,
        preallocator: IOThread? = nil,
        deleter: IOThread? = nil,
        logger: Logger,
        onRecoveryPoint: @escaping @Sendable (Int64) -> Void = { _ in },
        onLogStart: @escaping @Sendable () throws(ReservoirError) -> Void = {},
        live: LiveSlot? = nil
    ) throws(ReservoirError) {
        try config.validate()
        self.directory = directory
        self.live = live
        follower = nil
        metrics = LogMetrics(directory: directory)
        self.ioThread = ioThread
        self.deleter = deleter ?? ioThread
        self.onLogStart = onLogStart
        flushesEveryAppend = Atomic(config.flushPolicy == .always)
        self.preallocator = preallocator
        self.logger = logger
        self.onRecoveryPoint = onRecoveryPoint
        self.producerExpirationMilliseconds = producerExpirationMilliseconds
        try FileSystem.createDirectoryDurably(directory)

        var report = OpenReport()
        let recoveryPoint = checkpointedRecoveryPoint ?? 0
        let (segments, damage, loadedStart) = try LogLoader.load(
            directory: directory, config: config, logStartOffset: checkpointedLogStart,
            recoveryPoint: checkpointedRecoveryPoint, cleanShutdown: cleanShutdown, repair: repairDamage, report: &report,
            logger: logger)
        loadedDamage = damage
        let logStartOffset = loadedStart ?? 0
        let nextOffset = segments.last?.nextOffset ?? logStartOffset
        let firstBase = segments.first?.baseOffset ?? logStartOffset
        // A checkpointed start below the first segment is damage (segments missing): it stays, so
        // that reads of the missing offsets fail and the next open finds the damage again.
        let start =
            logStartOffset > nextOffset
            ? firstBase
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
            active.preallocate(on: preallocator, lookahead: Self.preallocationLookahead(config, durable: config.flushPolicy == .always))
        }
        segments.last?.restoreRollClock(now: wallClockMilliseconds())
        var initial = State(config: config, segments: segments, logStartOffset: start)
        initial.producers = try Self.loadProducers(
            directory: directory, segments: segments, end: nextOffset,
            scanFrom: cleanShutdown ? nextOffset : min(recoveryPoint, nextOffset),
            expiresBefore: wallClockMilliseconds().clampedMinus(producerExpirationMilliseconds), logger: logger)
        // Appending after damage at the end of the log would give new records offsets that lost
        // ones had (or write after bytes an operator must see): refused until repaired.
        if let last = damage.last,
            last.endOffset == nil || segments.last?.isDamaged == true
                || (last.endOffset ?? 0) > (segments.last?.nextOffset ?? 0)
        {
            initial.failure = ReservoirError(
                .corruptData,
                "\(LogLoader.label(directory)) is damaged at its end (\(last)); appends are refused until `reservoir verify --repair`")
        }
        state = Mutex(initial)
        end = AtomicInt(Int(nextOffset))
        // A recovery point past the end (durable offsets missing) is kept for the next open to see.
        recoveryPointValue = AtomicInt(Int(damage.isEmpty ? nextOffset : max(nextOffset, recoveryPoint)))
        openReport = report

        let holder = LogReference()
        groupCommit = GroupCommit(
            flushed: nextOffset, ioThread: ioThread,
            onDurable: { offset in
                // Published before anyone is told it is durable: a reader in another process
                // never lags an acknowledgement the writer gave.
                holder.log?.live?.publish { values in values.durableEnd = max(values.durableEnd, min(offset, values.writtenEnd)) }
            },
            onAdvance: { holder.log?.signalObservers(durable: true) }
        ) { () throws(ReservoirError) -> Int64 in
            try holder.log?.flushOnce() ?? 0
        }
        holder.log = self
        if let live {
            live.publish { $0.durableEnd = nextOffset }
            state.withLock { state in publishLive(state) }
            live.endLayoutChange()
        }
        recordSizeMetrics()
    }

    /// Records the segment count and size gauges.
    func recordSizeMetrics() {
        let (count, bytes) = state.withLock { state in (state.segments.count, state.segments.reduce(0) { $0 + $1.size }) }
        metrics.segments.record(count)
        metrics.sizeBytes.record(bytes)
    }

    /// Opens the log in `directory` for a read-only process: nothing on disk is created, changed
    /// or recovered; the segments are mapped as they are and followed as the writer (if any)
    /// publishes through `follower` (see ``LogFollower``). Appends fail with
    /// ``ReservoirError/Code/readOnly``.
    init(following follower: LogFollower, directory: String, config: LogConfig, ioThread: IOThread, logger: Logger) throws(ReservoirError) {
        self.directory = directory
        self.follower = follower
        live = nil
        metrics = LogMetrics(directory: directory)
        self.ioThread = ioThread
        deleter = ioThread
        preallocator = nil
        self.logger = logger
        onRecoveryPoint = { _ in }
        onLogStart = {}
        producerExpirationMilliseconds = 0
        flushesEveryAppend = Atomic(false)
        loadedDamage = []
        openReport = OpenReport()
        var initial = State(config: config, segments: [], logStartOffset: 0)
        initial.failure = ReservoirError(
            .readOnly,
            "\(LogLoader.label(directory)) is open read-only in this process: appends go through the process that writes the store")
        state = Mutex(initial)
        end = AtomicInt(0)
        recoveryPointValue = AtomicInt(0)
        groupCommit = GroupCommit(flushed: 0, ioThread: ioThread) { () throws(ReservoirError) -> Int64 in 0 }
        try catchUp(throwing: true)
    }

    /// Lets the group-commit closure reach the log without a retain cycle at init time.
    final class LogReference: @unchecked Sendable {
        // Set once in init before any flush can run, then only read.
        weak var log: PartitionLog?
    }

    // MARK: Offsets

    /// The offset the next appended record gets (Kafka's log end offset).
    ///
    /// In a read-only process: the end it may read to, as the writer last published it (the
    /// durable end, or the written end when the store was opened to see it).
    public var endOffset: Int64 {
        if follower != nil { catchUp() }
        return Int64(end.load())
    }
    /// Offsets below this are fsync'd.
    public var durableEndOffset: Int64 {
        if let follower {
            catchUp()
            return min(Int64(follower.durableEnd.load()), Int64(end.load()))
        }
        return min(groupCommit.flushedOffset, endOffset)
    }
    /// The first offset still in the log.
    public var startOffset: Int64 {
        if follower != nil { catchUp() }
        return state.withLock { $0.logStartOffset }
    }
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
        /// The offset of the segment's first record (its file name).
        public var baseOffset: Int64
        /// The offset after the segment's last record.
        public var nextOffset: Int64
        /// The segment's bytes.
        public var bytes: Int
        /// Entries in its offset index.
        public var indexEntries: Int
        /// Entries in its time index.
        public var timeIndexEntries: Int
        /// The largest record timestamp in the segment (ms since the epoch, -1 when empty).
        public var maxTimestamp: Int64
    }

    /// The log's segments, oldest first.
    public var segments: [SegmentInfo] {
        if follower != nil { catchUp() }
        return state.withLock { state in
            state.segments.map {
                SegmentInfo(
                    baseOffset: $0.baseOffset, nextOffset: $0.nextOffset, bytes: $0.size,
                    indexEntries: $0.offsetIndex.entryCount, timeIndexEntries: $0.timeIndex.entryCount,
                    maxTimestamp: $0.maxTimestamp)
            }
        }
    }

    /// Total bytes of all segments.
    public var sizeInBytes: Int { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }

    // MARK: Closing

    /// Flushes, trims the active segment's indexes and refuses further appends.
    func close() throws(ReservoirError) {
        let (active, producers) = state.withLock { state -> (Segment?, ProducerStateTable) in
            if state.closed { return (nil, state.producers) }
            state.closed = true
            return (state.segments.last, state.producers)
        }
        signalObservers(durable: false, all: true)
        guard let active else { return }
        guard follower == nil else { return }
        try active.finish()
        try syncDirectoryIfNeeded()
        try active.syncAll()
        try saveProducers(producers, at: endOffset)
        // Past the end only when durable offsets are missing: kept so the next open sees it again.
        recoveryPointValue.store(max(end.load(), recoveryPointValue.load()))
    }

    /// Publishes where the log ends and how far its active segment reaches (called under the
    /// state lock, after every change to them).
    func publishLive(_ state: borrowing State) {
        guard let live, let active = state.segments.last else { return }
        // The durable end moves in `onDurable`, before anyone is told; here it only stays within
        // the written end.
        live.publish { values in
            values.writtenEnd = active.nextOffset
            values.durableEnd = min(values.durableEnd, active.nextOffset)
            values.logStart = state.logStartOffset
            values.activeBase = active.baseOffset
            values.activeBytes = Int64(active.publishedSize)
            values.activeIndexEntries = Int64(active.offsetIndex.entryCount)
            values.activeTimeIndexEntries = Int64(active.timeIndex.entryCount)
        }
    }
}
