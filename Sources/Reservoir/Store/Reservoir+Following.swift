#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// A read-only process follows the writer: a thread of its own sleeps on the live state's futex
/// and, when the writer publishes a change, brings the partitions someone waits on up to date
/// and wakes their readers. Partitions nobody waits on catch up when they are read.
extension Reservoir {
    /// How long the follow thread sleeps at most between looks (a writer that starts or stops
    /// changes the live state too, so this only bounds how late a missed change is seen).
    static let followWaitMilliseconds = 1000

    func startFollowing() {
        let store = WeakStore(self)
        let source = liveSource
        startDetachedThread(name: "reservoir-follow") {
            // No live state yet: no writer has opened the store since it was made. The first
            // writer creates it; until then the thread looks for it in steps.
            var live = source.file
            while live == nil {
                usleep(UInt32(LiveStateSource.retryNanoseconds / 1000))
                guard let self = store.store, !self.isClosed else { return }
                live = source.file
                if live != nil { self.followWriter() }
            }
            guard let live else { return }
            var seen = live.changes
            while true {
                live.waitForChange(after: seen, milliseconds: Self.followWaitMilliseconds)
                seen = live.changes
                guard let self = store.store, !self.isClosed else { return }
                self.followWriter()
            }
        }
    }

    /// Brings the topics and the partitions with waiting readers up to date.
    func followWriter() {
        refreshTopicsIfChanged()
        let logs = topics.withLock { topics in topics.values.flatMap(\.partitions) }
        for log in logs where log.observerCount.load(ordering: .relaxed) > 0 {
            log.catchUp()
            log.signalObservers(durable: false, all: true)
        }
    }

    /// Opens the topics and partitions the writer created since this process last looked, and
    /// lets go of those it deleted.
    func refreshTopicsIfChanged() {
        guard isReadOnly, let live = liveState else { return }
        // One refresh at a time, and a caller that finds one under way waits for its result.
        followedTopicsGeneration.withLock { seen in
            let generation = live.topicsGeneration
            guard seen != generation else { return }
            do throws(ReservoirError) {
                try refreshTopics()
                seen = generation
            } catch {
                // Seen again at the next look: the topics already open stay.
                options.logger.warning("reading the writer's topics failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func refreshTopics() throws(ReservoirError) {
        let names = try FileSystem.list(topicsDirectory).filter {
            !StoreLayout.isDeletedTopicDirectory($0) && FileSystem.exists(layout.topicSettings($0))
        }
        var opened: [String: Topic] = [:]
        let current = topics.withLock { $0 }
        for name in names {
            let config = try Self.readConfig(layout.topicSettings(name))
            var logs = current[name]?.partitions ?? []
            guard logs.count < config.partitions else { continue }
            for partition in logs.count..<config.partitions {
                logs.append(
                    try openPartition(topic: name, config: config, partition: partition, logStart: nil, recoveryPoint: nil, clean: true))
            }
            opened[name] = Topic(
                name: name, config: config, directory: layout.topicDirectory(name), partitions: logs, ioThread: ioThread,
                lingerMilliseconds: options.lingerMilliseconds)
        }
        let present = Set(names)
        topics.withLock { topics in
            for name in topics.keys where !present.contains(name) { topics[name] = nil }
            for (name, topic) in opened { topics[name] = topic }
        }
    }
}

/// The store, weakly: the follow thread must not keep a store alive that its owner dropped.
final class WeakStore: Sendable {
    // Sendable by invariant: set once at init.
    nonisolated(unsafe) weak var store: Reservoir?

    init(_ store: Reservoir) { self.store = store }
}
