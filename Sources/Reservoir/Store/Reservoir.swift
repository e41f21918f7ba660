#if canImport(Glibc)
import Glibc
#endif
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
    /// How a store is opened.
    public struct Options: Sendable {
        /// Single-record appends wait this long for more records before their batch is written;
        /// 0 writes as soon as the previous batch is out (batches still form under load).
        public var lingerMilliseconds: Int = 0
        /// Where recovery and maintenance report (swift-log).
        public var logger: Logger = Logger(label: "reservoir")
        /// Threads that recover partitions at open.
        public var recoveryThreads: Int = 2
        /// How often the maintenance thread rolls, applies retention and compacts, in ms (15 s);
        /// 0 runs maintenance only on demand (``Reservoir/maintain(topic:retention:compaction:ignoringDirtyRatio:now:)``).
        public var maintenanceIntervalMilliseconds: Int = 15_000
        /// Memory for the compaction key map, 24 bytes per distinct key (64 MiB: about 2 M keys
        /// per pass; a larger dirty section takes several passes).
        public var cleanerMapBytes: Int = 64 << 20
        /// Repair damage found at open instead of only reporting it (false): keep every batch that
        /// passes its checks, move damaged files into the partition's `quarantine/` folder and mark
        /// lost offsets with empty batches, so that the log reads past them (`reservoir verify
        /// --repair`; see Docs/DURABILITY.md). An operator's choice, never a default.
        public var repairDamage: Bool = false

        /// Options with the defaults above.
        public init(
            lingerMilliseconds: Int = 0, logger: Logger = Logger(label: "reservoir"), recoveryThreads: Int = 2,
            maintenanceIntervalMilliseconds: Int = 15_000, cleanerMapBytes: Int = 64 << 20, repairDamage: Bool = false
        ) {
            self.repairDamage = repairDamage
            self.lingerMilliseconds = lingerMilliseconds
            self.logger = logger
            self.recoveryThreads = recoveryThreads
            self.maintenanceIntervalMilliseconds = maintenanceIntervalMilliseconds
            self.cleanerMapBytes = cleanerMapBytes
        }
    }

    /// The store's directory.
    public let directory: String
    let options: Options
    private let lock: StoreLock
    private let ioThread: IOThread
    /// Zero-fills space ahead of active segments' writers.
    private let preallocator: IOThread
    private let maintenance: MaintenanceService
    private let checkpointWriter = Mutex<Void>(())
    /// Serialises the creation of internal topics.
    let internalTopicLock = Mutex<Void>(())
    /// Committed offsets of consumer groups (loaded from `__consumer_offsets` at open).
    let offsetStore = OffsetStore()
    /// Live group members and their assignments.
    let coordinator = GroupCoordinator()
    /// Work-queue state (loaded from `__queue_state` at open) and the live queues.
    let queueStates = QueueStateStore()
    let queues = Mutex<[String: WorkQueue]>([:])
    private let topics: Mutex<[String: Topic]>
    /// Topics left closed at open because their stored settings cannot be read exactly, with why.
    /// Their files are untouched; fix the named setting in their `topic.json` and reopen.
    public var unreadableTopics: [String: ReservoirError] { unreadable.withLock { $0 } }
    private let unreadable = Mutex<[String: ReservoirError]>([:])
    private let closed = Atomic<Bool>(false)
    /// Whether the previous session closed the store cleanly.
    public let openedAfterCleanShutdown: Bool

    static let formatLine = "reservoir-format 1"

    /// The names of the store's files and folders.
    var layout: StoreLayout { StoreLayout(directory) }
    private var topicsDirectory: String { layout.topicsDirectory }

    /// Opens (creating when missing) the store at `path`, locks it and recovers it.
    ///
    /// - Throws: ``ReservoirError/Code/storeLocked`` when another process has it open;
    ///   ``ReservoirError/Code/unsupportedFormat`` for a directory of another format.
    public static func open(at path: String, options: Options = Options()) throws(ReservoirError) -> Reservoir {
        try Reservoir(path: path, options: options)
    }

    private init(path: String, options: Options) throws(ReservoirError) {
        directory = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.options = options
        try FileSystem.createDirectoryDurably(directory)
        lock = try StoreLock(directory: directory)
        try Self.checkFormat(directory)
        let marker = StoreLayout(directory).cleanShutdownMarker
        openedAfterCleanShutdown = FileSystem.exists(marker)
        if openedAfterCleanShutdown {
            // Removed at once: a crash from here on must count as unclean.
            try FileSystem.remove(marker)
            try FileSystem.syncDirectory(directory)
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
                        MaintenanceService.Target(topic: topic.name, partition: $0.offset, config: topic.config, log: $0.element)
                    }
                }
            } ?? []
        }
        try FileSystem.createDirectoryDurably(topicsDirectory)
        // A failure here runs deinit, which stops the threads.
        try loadTopics()
        if let offsets = topics.withLock({ $0[OffsetStore.topic] }) { try offsetStore.load(from: offsets.log(0)) }
        if let states = topics.withLock({ $0[QueueStateStore.topic] }) { try queueStates.load(from: states.log(0)) }
        maintenance.start(intervalMilliseconds: options.maintenanceIntervalMilliseconds)
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
                throw ReservoirError(.unsupportedFormat, "\(directory) is not empty and is not a Reservoir store (no \(FileSystem.fileName(of: path)))")
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
        for name in try FileSystem.list(topicsDirectory) {
            let configPath = layout.topicSettings(name)
            guard (try? TopicName.validate(name)) != nil, FileSystem.exists(configPath) else { continue }
            // A topic whose settings cannot be read exactly stays closed (its files untouched);
            // the others open. Using it fails with the reason.
            do throws(ReservoirError) {
                loaded.append((name, try Self.readConfig(configPath)))
            } catch {
                options.logger.error("topic not opened: its settings cannot be read", metadata: ["topic": "\(name)", "error": "\(error.message)"])
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
                    try openPartition(topic: name, config: config, partition: partition,
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
            topics[name] = Topic(name: name, config: config, directory: layout.topicDirectory(name), partitions: logs,
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

    private func openPartition(topic: String, config: TopicConfig, partition: Int, logStart: Int64?, recoveryPoint: Int64?, clean: Bool) throws(ReservoirError) -> PartitionLog {
        var logger = options.logger
        logger[metadataKey: "partition"] = "\(topic)-\(partition)"
        return try PartitionLog(
            directory: layout.partitionDirectory(TopicPartition(topic, partition)), config: config.logConfig,
            logStartOffset: logStart, recoveryPoint: recoveryPoint, cleanShutdown: clean, repairDamage: options.repairDamage,
            ioThread: ioThread,
            preallocator: preallocator, deleter: maintenance.deleter, logger: logger,
            onRecoveryPoint: { [weak self] _ in
                // A recovery point not checkpointed only makes the next open scan more.
                do throws(ReservoirError) { try self?.writeCheckpoints() } catch {
                    self?.options.logger.error("recovery point checkpoint write failed", metadata: ["error": "\(error)"])
                }
            },
            onLogStart: { [weak self] () throws(ReservoirError) in try self?.writeCheckpoints() })
    }

    /// A topic's settings, read strictly (see ``TopicConfig``'s decoding).
    static func readConfig(_ path: String) throws(ReservoirError) -> TopicConfig {
        let bytes = try FileHandle.open(path, writable: false).readAll()
        do {
            let config = try JSONDecoder().decode(TopicConfig.self, from: Data(bytes))
            try config.validate()
            return config
        } catch let error as ReservoirError {
            throw ReservoirError(.corruptData, "\(path): \(error.message)")
        } catch {
            throw ReservoirError(.corruptData, "\(path) is not a valid topic configuration: \(error)")
        }
    }

    /// Creates a topic.
    ///
    /// - Throws: ``ReservoirError/Code/invalidTopicName``, ``ReservoirError/Code/topicAlreadyExists``,
    ///   or ``ReservoirError/Code/invalidArgument`` for a configuration out of range.
    @discardableResult
    public func createTopic(_ name: String, config: TopicConfig = TopicConfig()) throws(ReservoirError) -> Topic {
        try checkWritable(name)
        return try createTopicUnchecked(name, config: config)
    }

    /// Creates a topic, the store's own included.
    func createTopicUnchecked(_ name: String, config: TopicConfig) throws(ReservoirError) -> Topic {
        try checkOpen()
        if let unreadable = unreadable.withLock({ $0[name] }) { throw unreadable }
        try TopicName.validate(name)
        try config.validate()
        let created = try topics.withLock { (topics) throws(ReservoirError) -> Topic in
            if topics[name] != nil { throw ReservoirError(.topicAlreadyExists, "topic \(name) already exists") }
            try Self.checkDescriptors(adding: config.partitions, to: topics)
            let topicDirectory = layout.topicDirectory(name)
            try FileSystem.createDirectoryDurably(topicDirectory)
            var logs: [PartitionLog] = []
            for partition in 0..<config.partitions {
                logs.append(try openPartition(topic: name, config: config, partition: partition, logStart: 0, recoveryPoint: 0, clean: true))
            }
            // The configuration is written last: a topic directory without it is ignored at open.
            try writeConfig(config, topic: name)
            try FileSystem.syncDirectory(topicsDirectory)
            let topic = Topic(name: name, config: config, directory: topicDirectory, partitions: logs,
                              ioThread: ioThread, lingerMilliseconds: options.lingerMilliseconds)
            topics[name] = topic
            return topic
        }
        // Checkpointed from the start, so that recovery knows the new partitions' recovery points
        // (unknown ones make it keep, not cut, what it cannot place).
        try writeCheckpoints()
        return created
    }

    /// Changes settings of an existing topic by name (as `reservoir topic alter --set` does);
    /// see ``TopicConfig/applying(_:)`` for the names. Returns the new configuration.
    @discardableResult
    public func alterTopic(_ name: String, settings: [(name: String, value: String)]) throws(ReservoirError) -> TopicConfig {
        try checkWritable(name)
        return try alterTopicSettings(name, settings: settings)
    }

    /// The settings change, for the store's own topics too.
    @discardableResult
    func alterTopicSettings(_ name: String, settings: [(name: String, value: String)]) throws(ReservoirError) -> TopicConfig {
        let config = try topic(name).config.applying(settings)
        try alterTopicConfig(name, config: config)
        return config
    }

    /// Replaces a topic's configuration, persisted at once. Partitions can be added, never
    /// removed; layout and flush settings apply to the partitions from their next append or
    /// roll, retention and compaction settings from the next maintenance pass.
    ///
    /// - Throws: ``ReservoirError/Code/invalidArgument`` for fewer partitions or a setting out of range.
    public func alterTopic(_ name: String, config: TopicConfig) throws(ReservoirError) {
        try checkWritable(name)
        try alterTopicConfig(name, config: config)
    }

    private func alterTopicConfig(_ name: String, config: TopicConfig) throws(ReservoirError) {
        try checkOpen()
        try config.validate()
        try topics.withLock { (topics) throws(ReservoirError) in
            guard let old = topics[name] else { throw ReservoirError(.topicNotFound, "topic \(name) does not exist: create it first") }
            guard config.partitions >= old.partitions.count else {
                throw ReservoirError(.invalidArgument, "topic \(name) has \(old.partitions.count) partitions: partitions can be added, never removed")
            }
            try Self.checkDescriptors(adding: config.partitions - old.partitions.count, to: topics)
            // New partitions are created and made durable before the settings that name them: a
            // failure leaves the store as it was (their directories removed again).
            var added: [PartitionLog] = []
            do throws(ReservoirError) {
                for partition in old.partitions.count..<config.partitions {
                    added.append(try openPartition(topic: name, config: config, partition: partition, logStart: 0, recoveryPoint: 0, clean: true))
                }
                try writeConfig(config, topic: name)
            } catch {
                for log in added {
                    try? log.close()
                    try? FileSystem.removeTree(log.directory)
                }
                if !added.isEmpty { try? FileSystem.syncDirectory(old.directory) }
                throw error
            }
            var logs = old.partitions
            for log in logs { try log.update(config: config.logConfig) }
            logs += added
            topics[name] = Topic(name: name, config: config, directory: old.directory, partitions: logs,
                                 ioThread: ioThread, lingerMilliseconds: options.lingerMilliseconds)
        }
        try writeCheckpoints()
    }

    /// Refuses partitions the process could not keep open: every partition holds at least three
    /// descriptors (the active segment's log and two indexes), and a store that cannot open its
    /// partitions cannot be opened at all.
    private static func checkDescriptors(adding partitions: Int, to topics: [String: Topic]) throws(ReservoirError) {
        guard partitions > 0 else { return }
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return }
        let open = topics.values.reduce(0) { $0 + $1.partitions.count }
        let needed = (open + partitions) * 3 + 64
        guard UInt64(needed) <= UInt64(limit.rlim_cur) else {
            throw ReservoirError(.invalidArgument, "\(open + partitions) partitions need at least \(needed) open files, and this process may open \(limit.rlim_cur) (ulimit -n): raise the limit or use fewer partitions")
        }
    }

    private func writeConfig(_ config: TopicConfig, topic name: String) throws(ReservoirError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let json = try? encoder.encode(config) else {
            throw ReservoirError(.invalidArgument, "topic configuration cannot be encoded")
        }
        try FileSystem.writeAtomically(Array(json), to: layout.topicSettings(name))
    }

    /// The store's own topics (committed offsets, work-queue state): readable by anyone, written
    /// and altered only by the store, since a crafted record there would move a group or a queue.
    public static let internalTopics: Set<String> = [OffsetStore.topic, QueueStateStore.topic]

    /// Refuses user writes and settings changes to an internal topic.
    func checkWritable(_ topic: String) throws(ReservoirError) {
        if Self.internalTopics.contains(topic) {
            throw ReservoirError(.invalidArgument, "topic \(topic) is internal to the store: it can be read, not written or altered")
        }
    }

    /// The names of all topics, sorted.
    public var topicNames: [String] { topics.withLock { $0.keys.sorted() } }

    /// The topic called `name`.
    public func topic(_ name: String) throws(ReservoirError) -> Topic {
        guard let topic = topics.withLock({ $0[name] }) else {
            if let unreadable = unreadable.withLock({ $0[name] }) { throw unreadable }
            throw ReservoirError(.topicNotFound, "topic \(name) does not exist: create it first")
        }
        return topic
    }

    /// The log of one partition, for direct reads and appends.
    public func log(topic name: String, partition: Int) throws(ReservoirError) -> PartitionLog {
        try topic(name).log(partition)
    }

    // MARK: Reading

    /// Reads whole batches of one partition from `offset`; see ``PartitionLog/read(from:maxBytes:isolation:)``.
    public func read(topic: String, partition: Int, from offset: Int64, maxBytes: Int = 1 << 20, isolation: ReadIsolation = .written) throws(ReservoirError) -> LogReadResult {
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
        return PartitionReader(topic: topic, partition: partition, log: log, start: start, isolation: isolation,
                               outOfRange: outOfRange, maxBytes: maxBytes)
    }

    /// The offset of the first record of the partition whose timestamp is ≥ `timestamp`, or nil.
    public func offset(topic: String, partition: Int, forTimestamp timestamp: Int64) throws(ReservoirError) -> Int64? {
        try log(topic: topic, partition: partition).offset(forTimestamp: timestamp)?.offset
    }

    // MARK: Maintenance

    /// Runs a maintenance pass now, on the maintenance thread, and waits for it: time-based
    /// rolls, then retention (with `retention`), then compaction of compacted topics whose dirty
    /// ratio or compaction lag calls for it (with `compaction`; `ignoringDirtyRatio` cleans any
    /// dirty section).
    ///
    /// - Parameters:
    ///   - topic: one topic, or every topic when nil.
    ///   - now: the time the pass takes as now, in ms since the epoch (the wall clock when nil);
    ///     a later time shows what the pass will do then (tests and operators).
    /// - Returns: what the pass removed, partition by partition.
    @discardableResult
    public func maintain(
        topic: String? = nil, retention: Bool = true, compaction: Bool = true, ignoringDirtyRatio: Bool = false, now: Int64? = nil
    ) throws(ReservoirError) -> MaintenanceReport {
        try checkOpen()
        if let topic { _ = try self.topic(topic) }
        return try maintenance.runNow(topic: topic, retention: retention, compaction: compaction,
                                      ignoringDirtyRatio: ignoringDirtyRatio, now: now)
    }

    /// Makes the records of a partition below `offset` unreadable and deletes the segments
    /// wholly below it (Kafka's DeleteRecords). The new log start offset is checkpointed.
    ///
    /// - Throws: ``ReservoirError/Code/offsetOutOfRange`` for an offset beyond the log end.
    @discardableResult
    public func deleteRecords(topic: String, partition: Int, before offset: Int64) throws(ReservoirError) -> PartitionLog.Removal {
        try checkOpen()
        try checkWritable(topic)
        let topicHandle = try self.topic(topic)
        return try topicHandle.log(partition).deleteRecords(before: offset, deleteDelayMs: topicHandle.config.fileDeleteDelayMs)
    }

    /// A partition's offsets, size and compaction state, for `describe`.
    public struct PartitionStatus: Sendable, Hashable {
        public var partition: Int
        public var startOffset: Int64
        public var endOffset: Int64
        public var segments: Int
        public var bytes: Int
        /// Share of the cleanable bytes not yet compacted (0 for topics that are not compacted).
        public var dirtyRatio: Double
        /// The first offset not yet compacted.
        public var firstDirtyOffset: Int64
    }

    /// The status of every partition of `topic`.
    public func status(of topic: String) throws(ReservoirError) -> [PartitionStatus] {
        let handle = try self.topic(topic)
        let now = wallClockMilliseconds()
        return handle.partitions.enumerated().map { partition, log in
            let segments = log.segments
            let firstDirty = maintenance.firstDirtyOffset(topic: topic, partition: partition)
            let survey = LogCleaner.survey(log, firstDirty: firstDirty, now: now, minCompactionLagMs: handle.config.minCompactionLagMs)
            return PartitionStatus(
                partition: partition, startOffset: log.startOffset, endOffset: log.endOffset, segments: segments.count,
                bytes: segments.reduce(0) { $0 + $1.bytes },
                dirtyRatio: handle.config.cleanup.contains(.compact) ? survey.dirtyRatio : 0, firstDirtyOffset: survey.firstDirty)
        }
    }

    /// What maintenance removed since the store was opened, by partition.
    public var maintenanceTotals: [TopicPartition: MaintenanceTotals] { maintenance.allTotals }

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
            lock.release()
            throw firstError
        }
        // Without its checkpoints the store must not claim a clean shutdown: the next open then
        // scans, and any failure here reaches the caller.
        defer { lock.release() }
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
