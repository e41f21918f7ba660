import CoreMetrics
import Dispatch
import Logging
import Synchronization

/// The store's background maintenance: time-based roll, retention and compaction of every
/// partition, on one dedicated thread, every ``Reservoir/Options/maintenanceIntervalMilliseconds``
/// and on demand.
///
/// Passes never run concurrently (they all run on the thread); appends never wait for them
/// longer than a roll or a file rename. Closing the store cancels a compaction in flight (its
/// partial output is removed; the log is as before) and stops the thread.
final class MaintenanceService: Sendable {
    /// One partition to look after, with its topic's configuration at the time of the pass.
    struct Target {
        var topic: String
        var partition: Int
        var config: TopicConfig
        var log: PartitionLog
        /// Which records replace their key's earlier ones when compacted (see
        /// ``LogCleaner/Settings/supersedes``).
        var supersedes: LogCleaner.SupersedingRule? = nil
    }

    /// Niced, so that when cores are short the cleaner yields to appends and fsyncs.
    private let thread = IOThread(name: "reservoir-maintenance", niceness: 10)
    private let cancelled = Atomic<Bool>(false)
    private let cleaner: CleanerBox
    private let firstDirty: Mutex<[TopicPartition: Int64]>
    private let totals = Mutex<[TopicPartition: MaintenanceTotals]>([:])
    private let checkpoint: CheckpointFile
    private let logger: Logger
    private let targetSource = Mutex<(@Sendable () -> [Target])?>(nil)

    /// The cleaner holds buffers used by one pass at a time; only the maintenance thread touches it.
    private final class CleanerBox: @unchecked Sendable {
        let cleaner: LogCleaner
        init(_ cleaner: LogCleaner) { self.cleaner = cleaner }
    }

    /// The thread that also removes `.deleted` files when their delay has passed.
    var deleter: IOThread { thread }

    init(directory: String, mapMemoryBytes: Int, logger: Logger) {
        self.logger = logger
        cleaner = CleanerBox(LogCleaner(mapMemoryBytes: mapMemoryBytes))
        checkpoint = CheckpointFile(path: StoreLayout(directory).cleanerCheckpoint)
        firstDirty = Mutex(checkpoint.readOffsets() ?? [:])
    }

    /// Sets where passes find the partitions to look after.
    func attach(_ targets: @escaping @Sendable () -> [Target]) {
        targetSource.withLock { $0 = targets }
    }

    private func targets() -> [Target] {
        targetSource.withLock { $0 }?() ?? []
    }

    /// Starts the periodic passes (none when `intervalMilliseconds` is 0).
    func start(intervalMilliseconds: Int) {
        guard intervalMilliseconds > 0 else { return }
        schedule(timerNanoseconds(milliseconds: intervalMilliseconds))
    }

    private func schedule(_ interval: UInt64) {
        thread.schedule(afterNanoseconds: interval) { [weak self] in
            guard let self, !self.cancelled.load(ordering: .relaxed) else { return }
            _ = self.pass(topic: nil, retention: true, compaction: true, ignoringDirtyRatio: false, now: nil)
            self.schedule(interval)
        }
    }

    /// Runs a pass on the maintenance thread and waits for it.
    func runNow(topic: String?, retention: Bool, compaction: Bool, ignoringDirtyRatio: Bool, now: Int64?) throws(ReservoirError)
        -> MaintenanceReport
    {
        let outcome = Mutex<Result<MaintenanceReport, ReservoirError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        thread.submit { [self] in
            let report = pass(topic: topic, retention: retention, compaction: compaction, ignoringDirtyRatio: ignoringDirtyRatio, now: now)
            outcome.withLock { $0 = report }
            done.signal()
        }
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw ReservoirError(.closed, "maintenance stopped") }
        return try result.get()
    }

    /// Cancels a compaction in flight and stops the thread (queued work runs first; timed work is dropped).
    func stop() {
        cancelled.store(true, ordering: .relaxed)
        thread.stop()
    }

    /// The first dirty offset the cleaner recorded for a partition (0 when never cleaned).
    func firstDirtyOffset(topic: String, partition: Int) -> Int64 {
        firstDirty.withLock { $0[TopicPartition(topic, partition)] ?? 0 }
    }

    /// Totals per partition since open.
    var allTotals: [TopicPartition: MaintenanceTotals] { totals.withLock { $0 } }

    // MARK: A pass

    private func pass(topic: String?, retention: Bool, compaction: Bool, ignoringDirtyRatio: Bool, now fixedNow: Int64?) -> Result<
        MaintenanceReport, ReservoirError
    > {
        var report = MaintenanceReport()
        var firstError: ReservoirError?
        for target in targets() where topic == nil || target.topic == topic {
            if cancelled.load(ordering: .relaxed) { break }
            let now = fixedNow ?? wallClockMilliseconds()
            var entry = PartitionMaintenance(topic: target.topic, partition: target.partition)
            do throws(ReservoirError) {
                try run(
                    target, retention: retention, compaction: compaction, ignoringDirtyRatio: ignoringDirtyRatio,
                    now: now, into: &entry)
            } catch {
                // One damaged partition must not stop the others (Kafka marks it uncleanable).
                logger.error("maintenance failed", metadata: ["partition": "\(target.topic)-\(target.partition)", "error": "\(error)"])
                firstError = firstError ?? error
            }
            record(entry)
            if entry.changedAnything { report.partitions.append(entry) }
        }
        if let firstError, report.partitions.isEmpty { return .failure(firstError) }
        return .success(report)
    }

    private func run(
        _ target: Target, retention: Bool, compaction: Bool, ignoringDirtyRatio: Bool, now: Int64, into entry: inout PartitionMaintenance
    ) throws(ReservoirError) {
        let config = target.config
        let log = target.log
        entry.rolled = try log.rollIfDue(now: now)
        if retention {
            // Segments below the log start go whatever the policy (Kafka does the same).
            let deletes = config.cleanup.contains(.delete)
            entry.retention = try log.deleteOldSegments(
                retentionMs: deletes ? config.retentionMs : nil, retentionBytes: deletes ? config.retentionBytes : nil,
                now: now, deleteDelayMs: config.fileDeleteDelayMs)
        }
        log.recordSizeMetrics()
        guard compaction, config.cleanup.contains(.compact) else { return }
        let key = TopicPartition(target.topic, target.partition)
        let checkpointed = firstDirty.withLock { $0[key] ?? 0 }
        let survey = LogCleaner.survey(log, firstDirty: checkpointed, now: now, minCompactionLagMs: config.minCompactionLagMs)
        entry.dirtyRatio = survey.dirtyRatio
        guard survey.dirtyBytes > 0 || ignoringDirtyRatio else { return }
        let lagExceeded =
            survey.oldestDirtyTimestamp.map { config.maxCompactionLagMs < Int64.max && now.clampedMinus($0) > config.maxCompactionLagMs }
            ?? false
        guard ignoringDirtyRatio || lagExceeded || survey.dirtyRatio >= config.minCleanableDirtyRatio else { return }

        var settings = config.cleanerSettings
        settings.supersedes = target.supersedes
        let started = monotonicNanoseconds()
        guard
            let result = try cleaner.cleaner.clean(
                log, firstDirty: checkpointed, settings: settings, now: now,
                rewritingCleanSection: ignoringDirtyRatio,
                isCancelled: {
                    cancelled.load(ordering: .relaxed)
                })
        else { return }
        entry.compacted = true
        entry.cleanerSeconds = Double(monotonicNanoseconds() - started) / 1e9
        entry.recordsCompacted = result.recordsRemoved
        entry.bytesCompacted = result.bytesBefore - result.bytesAfter
        entry.dirtyBytesCleaned = result.dirtyBytesRead
        firstDirty.withLock { $0[key] = result.nextDirty }
        writeCheckpoint()
        logger.info(
            "compacted",
            metadata: [
                "partition": "\(target.topic)-\(target.partition)", "dirtyRatio": "\(survey.dirtyRatio)",
                "recordsRemoved": "\(result.recordsRemoved)", "bytesBefore": "\(result.bytesBefore)", "bytesAfter": "\(result.bytesAfter)",
                "segments": "\(result.segmentsBefore)→\(result.segmentsAfter)", "seconds": "\(entry.cleanerSeconds)",
                "tombstonesRemoved": "\(result.tombstonesRemoved)", "unkeyedRemoved": "\(result.unkeyedRecordsRemoved)",
            ])
    }

    /// Reports a pass's work to swift-metrics (whatever backend the application bootstrapped):
    /// counters `reservoir_retention_removed_records`/`_bytes` and
    /// `reservoir_compaction_removed_records`/`_bytes`, the gauge `reservoir_dirty_ratio` and the
    /// timer `reservoir_cleaner_duration`, each with `topic` and `partition` dimensions.
    private func report(_ entry: PartitionMaintenance) {
        let dimensions = [("topic", entry.topic), ("partition", String(entry.partition))]
        if entry.retention.segments > 0 {
            Counter(label: "reservoir_retention_removed_records", dimensions: dimensions).increment(by: entry.retention.records)
            Counter(label: "reservoir_retention_removed_bytes", dimensions: dimensions).increment(by: entry.retention.bytes)
        }
        if entry.compacted {
            Counter(label: "reservoir_compaction_removed_records", dimensions: dimensions).increment(by: entry.recordsCompacted)
            Counter(label: "reservoir_compaction_removed_bytes", dimensions: dimensions).increment(by: max(0, entry.bytesCompacted))
            Timer(label: "reservoir_cleaner_duration", dimensions: dimensions).recordNanoseconds(Int64(entry.cleanerSeconds * 1e9))
        }
        Gauge(label: "reservoir_dirty_ratio", dimensions: dimensions).record(entry.dirtyRatio)
    }

    private func record(_ entry: PartitionMaintenance) {
        report(entry)
        if entry.retention.segments > 0 {
            logger.info(
                "retention",
                metadata: [
                    "partition": "\(entry.topic)-\(entry.partition)", "segments": "\(entry.retention.segments)",
                    "records": "\(entry.retention.records)", "bytes": "\(entry.retention.bytes)",
                ])
        }
        totals.withLock { totals in
            let key = TopicPartition(entry.topic, entry.partition)
            var total = totals[key, default: MaintenanceTotals()]
            total.recordsRemovedByRetention += entry.retention.records
            total.bytesRemovedByRetention += entry.retention.bytes
            total.recordsRemovedByCompaction += entry.recordsCompacted
            total.bytesRemovedByCompaction += entry.bytesCompacted
            total.compactionPasses += entry.compacted ? 1 : 0
            total.cleanerSeconds += entry.cleanerSeconds
            total.dirtyRatio = entry.dirtyRatio
            totals[key] = total
        }
    }

    private func writeCheckpoint() {
        let offsets = firstDirty.withLock { $0 }
        do throws(ReservoirError) { try checkpoint.write(offsets) } catch {
            logger.error("cleaner checkpoint write failed", metadata: ["error": "\(error)"])
        }
    }
}
