#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import Dispatch
import FoundationEssentials
import Logging
import Synchronization

/// A store: a directory of topics, each a set of partition logs in Kafka's on-disk format.
///
/// ```swift
/// let store = try Reservoir.open(at: "/var/lib/shop/events")
/// try store.createTopic("orders", config: TopicConfig(partitions: 4, compression: .lz4))
/// let receipt = try await store.append(to: "orders", key: "user-42", value: "{\"total\":42}")
/// let result = try store.read(topic: "orders", partition: receipt.partition, from: receipt.offset)
/// try store.close()
/// ```
///
/// Opening takes an exclusive lock on the directory, recovers every partition (in parallel) and
/// starts the store's I/O thread; closing flushes, checkpoints and writes the clean-shutdown
/// marker so that the next open skips the recovery scan.
public final class Reservoir: Sendable {
    /// The store's directory.
    public let directory: String
    let options: Options
    private let lock: StoreLock?
    /// The live state this process publishes (the writer) or follows (a read-only process).
    let liveSource: LiveStateSource
    /// The live state: the writer publishes through it, read-only processes follow it.
    var liveState: LiveStateFile? { liveSource.file }
    /// The topics generation of the live state when this read-only process last read the topics.
    let followedTopicsGeneration = Mutex<UInt64>(0)
    let ioThread: IOThread
    /// Zero-fills space ahead of active segments' writers.
    let preallocator: IOThread
    let maintenance: MaintenanceService
    private let checkpointWriter = Mutex<Void>(())
    /// Serialises the creation of internal topics.
    let internalTopicLock = Mutex<Void>(())
    /// Committed offsets of consumer groups (loaded from `__consumer_offsets` at open).
    let offsetStore = OffsetStore()
    /// Idempotent producer ids, reserved in blocks.
    let producerIds: ProducerIdAllocator
    /// Live group members and their assignments.
    let coordinator = GroupCoordinator()
    /// Work-queue state (loaded from `__queue_state` at open) and the live queues.
    let queueStates = QueueStateStore()
    let queues = Mutex<[String: WorkQueue]>([:])
    /// Whether the group members' session-timeout sweep runs.
    let sessionSweepRunning = Atomic<Bool>(false)
    let topics: Mutex<[String: Topic]>
    /// Topics left closed at open because their stored settings cannot be read exactly, with why.
    /// Their files are untouched; fix the named setting in their `topic.json` and reopen.
    public var unreadableTopics: [String: ReservoirError] { unreadable.withLock { $0 } }
    let unreadable = Mutex<[String: ReservoirError]>([:])
    private let closed = Atomic<Bool>(false)
    /// Whether the previous session closed the store cleanly.
    public let openedAfterCleanShutdown: Bool

    static let formatLine = "reservoir-format \(formatVersion)"

    /// This version of the library (and of the `reservoir` tool built with it).
    public static let version = "0.15.0"
    /// The store format this version reads and writes (the line in `reservoir.format`).
    public static let formatVersion = 1

    /// The names of the store's files and folders.
    var layout: StoreLayout { StoreLayout(directory) }
    var topicsDirectory: String { layout.topicsDirectory }

    /// Opens (creating when missing) the store at `path`, locks it and recovers it.
    ///
    /// - Throws: ``ReservoirError/Code/storeLocked`` when another process has it open;
    ///   ``ReservoirError/Code/unsupportedFormat`` for a directory of another format.
    public static func open(at path: String, options: Options = Options()) throws(ReservoirError) -> Reservoir {
        try Reservoir(path: path, options: options)
    }

    /// Opens the store at `path` read-only, beside the process that writes it (if any): see
    /// ``Access/readOnly(_:)``.
    ///
    /// ```swift
    /// let store = try Reservoir.openReadOnly(at: "/var/lib/shop/events")
    /// let reader = try store.reader(topic: "orders", partition: 0, from: .earliest)
    /// ```
    ///
    /// - Parameters:
    ///   - path: the store's directory.
    ///   - visibility: `.durable` (the default) reads up to the writer's durable end,
    ///     `.written` up to what it has written.
    ///   - options: the other options (the logger, recovery threads); `access` is set here.
    /// - Throws: ``ReservoirError/Code/storeNotFound`` when no store is at `path`.
    public static func openReadOnly(at path: String, visibility: ReadIsolation = .durable, options: Options = Options())
        throws(ReservoirError) -> Reservoir
    {
        var options = options
        options.access = .readOnly(visibility)
        return try Reservoir(path: path, options: options)
    }

    /// Whether this process opened the store read-only.
    public var isReadOnly: Bool { options.access != .readWrite }

    private init(path: String, options: Options) throws(ReservoirError) {
        directory = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        producerIds = ProducerIdAllocator(path: StoreLayout(directory).producerIdBlock)
        self.options = options
        let marker = StoreLayout(directory).cleanShutdownMarker
        if options.access == .readWrite {
            try FileSystem.createDirectoryDurably(directory)
            lock = try StoreLock(directory: directory)
            try Self.checkFormat(directory)
            openedAfterCleanShutdown = FileSystem.exists(marker)
            if openedAfterCleanShutdown {
                // Removed at once: a crash from here on must count as unclean.
                try FileSystem.remove(marker)
                try FileSystem.syncDirectory(directory)
            }
            liveSource = LiveStateSource(writer: try LiveStateFile.openForWriting(root: directory))
        } else {
            guard FileSystem.exists(directory) else {
                throw ReservoirError(.storeNotFound, "no store at \(directory): the directory does not exist")
            }
            guard FileSystem.exists(StoreLayout(directory).formatFile) else {
                throw ReservoirError(
                    .storeNotFound,
                    "\(directory) is not a Reservoir store (no \(FileSystem.fileName(of: StoreLayout(directory).formatFile)))")
            }
            lock = nil
            try Self.checkFormat(directory)
            openedAfterCleanShutdown = FileSystem.exists(marker)
            liveSource = try LiveStateSource(readingRoot: directory, logger: options.logger)
            let generation = liveSource.file?.topicsGeneration ?? 0
            followedTopicsGeneration.withLock { $0 = generation }
        }
        ioThread = IOThread(name: "reservoir-io")
        preallocator = IOThread(name: "reservoir-prealloc")
        topics = Mutex([:])
        maintenance = MaintenanceService(
            directory: directory, mapMemoryBytes: max(1 << 16, options.cleanerMapBytes), logger: options.logger)
        maintenance.attach { [weak self] in
            self?.topics.withLock { topics in
                topics.values.sorted { $0.name < $1.name }.flatMap { topic in
                    topic.partitions.enumerated().map {
                        MaintenanceService.Target(
                            topic: topic.name, partition: $0.offset, config: topic.config, log: $0.element,
                            supersedes: Self.supersedingRule(ofTopic: topic.name))
                    }
                }
            } ?? []
        }
        if !isReadOnly { try FileSystem.createDirectoryDurably(topicsDirectory) }
        // A failure here runs deinit, which stops the threads.
        let loadStarted = monotonicNanoseconds()
        try loadTopics()
        if !isReadOnly {
            Timer(label: "reservoir_recovery_duration").recordNanoseconds(Int64(monotonicNanoseconds() &- loadStarted))
        }
        if !isReadOnly { removeDeletedTopicDirectories() }
        if let offsets = topics.withLock({ $0[OffsetStore.topic] }) { try offsetStore.load(from: offsets.log(0)) }
        if let states = topics.withLock({ $0[QueueStateStore.topic] }) { try queueStates.load(from: states.log(0)) }
        if isReadOnly {
            startFollowing()
        } else {
            maintenance.start(intervalMilliseconds: options.maintenanceIntervalMilliseconds)
        }
    }

    private static func checkFormat(_ directory: String) throws(ReservoirError) {
        let path = StoreLayout(directory).formatFile
        if FileSystem.exists(path) {
            let text = String(decoding: try FileHandle.open(path, writable: false).readAll(), as: UTF8.self)
            guard text.split(separator: "\n").first.map(String.init) == formatLine else {
                throw ReservoirError(.unsupportedFormat, "\(path) says \"\(text.prefix(40))\": this version reads \(formatLine)")
            }
        } else {
            let entries = try FileSystem.list(directory).filter { $0 != StoreLayout.lockFileName }
            guard entries.isEmpty else {
                throw ReservoirError(
                    .unsupportedFormat, "\(directory) is not empty and is not a Reservoir store (no \(FileSystem.fileName(of: path)))")
            }
            try FileSystem.writeAtomically(Array((formatLine + "\n").utf8), to: path)
        }
    }

    // MARK: Topics

    private func loadTopics() throws(ReservoirError) {
        let recoveryPoints = checkpoint(layout.recoveryPointCheckpoint)
        let logStarts = checkpoint(layout.logStartCheckpoint)
        var loaded: [(String, TopicConfig)] = []
        var unreadable: [String: ReservoirError] = [:]
        let names = isReadOnly && !FileSystem.exists(topicsDirectory) ? [] : try FileSystem.list(topicsDirectory)
        for name in names {
            let configPath = layout.topicSettings(name)
            guard (try? TopicName.validate(name)) != nil, FileSystem.exists(configPath) else { continue }
            // A topic whose settings cannot be read exactly stays closed (its files untouched);
            // the others open. Using it fails with the reason.
            do throws(ReservoirError) {
                loaded.append((name, try Self.readConfig(configPath)))
            } catch {
                options.logger.error(
                    "topic not opened: its settings cannot be read", metadata: ["topic": "\(name)", "error": "\(error.message)"])
                unreadable[name] = error
            }
        }
        self.unreadable.withLock { [unreadable] in $0 = unreadable }
        // Partitions recover in parallel on a few threads (blocking I/O, off the cooperative pool).
        let jobs = loaded.flatMap { name, config in (0..<config.partitions).map { (name, config, $0) } }
        let results = Mutex<[TopicPartition: Result<PartitionLog, ReservoirError>]>([:])
        let clean = openedAfterCleanShutdown
        let next = Atomic<Int>(0)
        let threads = max(1, min(options.recoveryThreads, jobs.count))
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < jobs.count else { return }
                let (name, config, partition) = jobs[index]
                let key = TopicPartition(name, partition)
                let result = Result { () throws(ReservoirError) -> PartitionLog in
                    try openPartition(
                        topic: name, config: config, partition: partition,
                        logStart: logStarts?[key], recoveryPoint: recoveryPoints?[key], clean: clean)
                }
                results.withLock { $0[key] = result }
            }
        }
        let opened = results.withLock { $0 }
        var topics: [String: Topic] = [:]
        for (name, config) in loaded {
            var logs: [PartitionLog] = []
            for partition in 0..<config.partitions {
                guard let result = opened[TopicPartition(name, partition)] else { continue }
                logs.append(try result.get())
            }
            topics[name] = Topic(
                name: name, config: config, directory: layout.topicDirectory(name), partitions: logs,
                ioThread: ioThread, lingerMilliseconds: options.lingerMilliseconds)
        }
        self.topics.withLock { $0 = topics }
    }

    /// A checkpoint's offsets by partition; nil when the file is missing or malformed.
    private func checkpoint(_ path: String) -> [TopicPartition: Int64]? {
        guard let offsets = CheckpointFile(path: path).readOffsets() else {
            if FileSystem.exists(path) {
                options.logger.warning("checkpoint unreadable: recovery assumes nothing", metadata: ["file": "\(path)"])
            }
            return nil
        }
        return offsets
    }

    func openPartition(topic: String, config: TopicConfig, partition: Int, logStart: Int64?, recoveryPoint: Int64?, clean: Bool)
        throws(ReservoirError) -> PartitionLog
    {
        var logger = options.logger
        logger[metadataKey: "partition"] = "\(topic)-\(partition)"
        let key = TopicPartition(topic, partition)
        if case .readOnly(let visibility) = options.access {
            let layout = self.layout
            let follower = LogFollower(
                live: liveSource, partition: key, visibility: visibility,
                checkpointedLogStart: { CheckpointFile(path: layout.logStartCheckpoint).readOffsets()?[key] },
                checkpointedRecoveryPoint: { CheckpointFile(path: layout.recoveryPointCheckpoint).readOffsets()?[key] },
                closedCleanly: { FileSystem.exists(layout.cleanShutdownMarker) })
            return try PartitionLog(
                following: follower, directory: layout.partitionDirectory(key), config: config.logConfig, ioThread: ioThread,
                logger: logger)
        }
        return try PartitionLog(
            directory: layout.partitionDirectory(TopicPartition(topic, partition)), config: config.logConfig,
            logStartOffset: logStart, recoveryPoint: recoveryPoint, cleanShutdown: clean, repairDamage: options.repairDamage,
            producerExpirationMilliseconds: options.producerIdExpirationMilliseconds, ioThread: ioThread,
            preallocator: preallocator, deleter: maintenance.deleter, logger: logger,
            onRecoveryPoint: { [weak self] _ in
                // A recovery point not checkpointed only makes the next open scan more.
                do throws(ReservoirError) { try self?.writeCheckpoints() } catch {
                    self?.options.logger.error("recovery point checkpoint write failed", metadata: ["error": "\(error)"])
                }
            },
            onLogStart: { [weak self] () throws(ReservoirError) in try self?.writeCheckpoints() },
            live: liveState?.slot(for: key))
    }

    // MARK: Closing

    /// Runs `job` on the store's I/O thread after `delay` (short timer work: lock expiry).
    func scheduleTimer(afterNanoseconds delay: UInt64, _ job: @escaping @Sendable () -> Void) {
        ioThread.schedule(afterNanoseconds: delay, job)
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    func checkOpen() throws(ReservoirError) {
        if closed.load(ordering: .acquiring) { throw ReservoirError(.closed, "store \(directory) is closed") }
    }

    /// Refuses changes in a process that opened the store read-only.
    func checkNotReadOnly() throws(ReservoirError) {
        guard isReadOnly else { return }
        var writer = ""
        if let liveState, liveState.writerIsLive { writer = " (process \(liveState.writerPid) writes it)" }
        throw ReservoirError(
            .readOnly, "store \(directory) is open read-only in this process\(writer): changes go through the process that writes it")
    }

    private func allPartitions() -> [(String, Int, PartitionLog)] {
        topics.withLock { topics in
            topics.values.sorted { $0.name < $1.name }.flatMap { topic in
                topic.partitions.enumerated().map { (topic.name, $0.offset, $0.element) }
            }
        }
    }

    /// Writes the recovery-point and log-start checkpoints of every partition.
    func writeCheckpoints() throws(ReservoirError) {
        // One writer at a time: the I/O thread (recovery points) and the maintenance thread (log
        // starts) both write, through the same temporary files.
        try checkpointWriter.withLock { _ throws(ReservoirError) in
            let partitions = allPartitions()
            try CheckpointFile(path: layout.recoveryPointCheckpoint).write(
                partitions.map { .init(topic: $0.0, partition: $0.1, offset: $0.2.recoveryPoint) })
            try CheckpointFile(path: layout.logStartCheckpoint).write(
                partitions.map { .init(topic: $0.0, partition: $0.1, offset: $0.2.startOffset) })
        }
    }

    /// Flushes every partition, writes the checkpoints and the clean-shutdown marker, stops the
    /// I/O thread and releases the lock. Further calls fail with ``ReservoirError/Code/closed``.
    public func close() throws(ReservoirError) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if isReadOnly {
            // Nothing to flush or checkpoint: readers end, the threads stop.
            for member in coordinator.closeAll() { member.storeClosing() }
            queues.withLock { $0.removeAll() }
            for (_, _, log) in allPartitions() { try? log.close() }
            ioThread.stop()
            preallocator.stop()
            return
        }
        // Abandons a compaction in flight (the log stays as it was) before the logs close.
        maintenance.stop()
        // Group members commit (auto-commit mode) and stop; readers end when their logs close.
        for member in coordinator.closeAll() { member.storeClosing() }
        // Queues and members hold the store: let go of them so that nothing keeps it alive.
        queues.withLock { $0.removeAll() }
        // Let pending single-record appends reach their logs before the logs close.
        let drained = DispatchSemaphore(value: 0)
        ioThread.submit { drained.signal() }
        drained.wait()
        var firstError: ReservoirError?
        for (_, _, log) in allPartitions() {
            do throws(ReservoirError) { try log.close() } catch { firstError = firstError ?? error }
        }
        ioThread.stop()
        preallocator.stop()
        if let firstError {
            liveState?.closeWriter()
            lock?.release()
            throw firstError
        }
        // Without its checkpoints the store must not claim a clean shutdown: the next open then
        // scans, and any failure here reaches the caller.
        defer {
            liveState?.closeWriter()
            lock?.release()
        }
        try writeCheckpoints()
        try FileSystem.writeAtomically(Array("clean\n".utf8), to: layout.cleanShutdownMarker)
    }

    /// Closes without flushing.
    deinit {
        if !closed.load(ordering: .acquiring) {
            maintenance.stop()
            ioThread.stop()
            preallocator.stop()
        }
    }
}
