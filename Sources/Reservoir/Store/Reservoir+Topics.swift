#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Logging
import Synchronization

extension Reservoir {
    // MARK: Topics

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
        try checkNotReadOnly()
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
                logs.append(
                    try openPartition(topic: name, config: config, partition: partition, logStart: 0, recoveryPoint: 0, clean: true))
            }
            // The configuration is written last: a topic directory without it is ignored at open.
            try writeConfig(config, topic: name)
            try FileSystem.syncDirectory(topicsDirectory)
            let topic = Topic(
                name: name, config: config, directory: topicDirectory, partitions: logs,
                ioThread: ioThread, lingerMilliseconds: options.lingerMilliseconds)
            topics[name] = topic
            liveState?.topicsChanged()
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

    func alterTopicConfig(_ name: String, config: TopicConfig) throws(ReservoirError) {
        try checkNotReadOnly()
        try checkOpen()
        try config.validate()
        try topics.withLock { (topics) throws(ReservoirError) in
            guard let old = topics[name] else {
                throw ReservoirError(.topicNotFound, "topic \(name) does not exist in store \(directory): create it first")
            }
            guard config.partitions >= old.partitions.count else {
                throw ReservoirError(
                    .invalidArgument, "topic \(name) has \(old.partitions.count) partitions: partitions can be added, never removed")
            }
            try Self.checkDescriptors(adding: config.partitions - old.partitions.count, to: topics)
            // New partitions are created and made durable before the settings that name them: a
            // failure leaves the store as it was (their directories removed again).
            var added: [PartitionLog] = []
            do throws(ReservoirError) {
                for partition in old.partitions.count..<config.partitions {
                    added.append(
                        try openPartition(topic: name, config: config, partition: partition, logStart: 0, recoveryPoint: 0, clean: true))
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
            topics[name] = Topic(
                name: name, config: config, directory: old.directory, partitions: logs,
                ioThread: ioThread, lingerMilliseconds: options.lingerMilliseconds)
            liveState?.topicsChanged()
        }
        try writeCheckpoints()
    }

    /// Deletes a topic: its partitions close (appends and readers on them end with
    /// ``ReservoirError/Code/closed``) and its directory is renamed out of the way at once, durably,
    /// then removed. A crash in between leaves the renamed directory, which the next open removes;
    /// the topic never comes back.
    ///
    /// - Throws: ``ReservoirError/Code/topicNotFound``; ``ReservoirError/Code/invalidArgument`` for
    ///   an internal topic.
    public func deleteTopic(_ name: String) throws(ReservoirError) {
        try checkNotReadOnly()
        try checkWritable(name)
        try checkOpen()
        try topics.withLock { (topics) throws(ReservoirError) in
            guard let topic = topics[name] else { throw ReservoirError(.topicNotFound, "topic \(name) does not exist") }
            // Closed first: appends and readers end before the files move.
            for log in topic.partitions {
                do throws(ReservoirError) { try log.close() } catch {
                    options.logger.warning(
                        "closing a deleted topic's partition failed", metadata: ["topic": "\(name)", "error": "\(error)"])
                }
            }
            let target = layout.deletedTopicDirectory(name, stamp: wallClockMilliseconds())
            try FileSystem.rename(topic.directory, to: target)
            try FileSystem.syncDirectory(layout.topicsDirectory)
            topics[name] = nil
            for partition in topic.partitions.indices { liveState?.releaseSlot(for: TopicPartition(name, partition)) }
            liveState?.topicsChanged()
        }
        try writeCheckpoints()
        removeDeletedTopicDirectories()
    }

    /// Removes the directories of deleted topics (after a delete, and at open after a crash).
    func removeDeletedTopicDirectories() {
        guard let names = try? FileSystem.list(layout.topicsDirectory) else { return }
        for name in names where StoreLayout.isDeletedTopicDirectory(name) {
            do throws(ReservoirError) { try FileSystem.removeTree(layout.topicsDirectory + "/" + name) } catch {
                options.logger.warning(
                    "removing a deleted topic's files failed; the next open tries again",
                    metadata: ["directory": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Refuses partitions the process could not keep open: every partition holds at least three
    /// descriptors (the active segment's log and two indexes), and a store that cannot open its
    /// partitions cannot be opened at all.
    static func checkDescriptors(adding partitions: Int, to topics: [String: Topic]) throws(ReservoirError) {
        guard partitions > 0 else { return }
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return }
        let open = topics.values.reduce(0) { $0 + $1.partitions.count }
        let needed = (open + partitions) * 3 + 64
        guard UInt64(needed) <= UInt64(limit.rlim_cur) else {
            throw ReservoirError(
                .invalidArgument,
                "\(open + partitions) partitions need at least \(needed) open files, and this process may open \(limit.rlim_cur) (ulimit -n): raise the limit or use fewer partitions"
            )
        }
    }

    func writeConfig(_ config: TopicConfig, topic name: String) throws(ReservoirError) {
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

    /// Refuses user writes and settings changes to an internal topic, and every change in a
    /// read-only process.
    func checkWritable(_ topic: String) throws(ReservoirError) {
        try checkNotReadOnly()
        if Self.internalTopics.contains(topic) {
            throw ReservoirError(.invalidArgument, "topic \(topic) is internal to the store: it can be read, not written or altered")
        }
    }

    /// The names of all topics, sorted.
    public var topicNames: [String] {
        refreshTopicsIfChanged()
        return topics.withLock { $0.keys.sorted() }
    }

    /// The topic called `name`.
    public func topic(_ name: String) throws(ReservoirError) -> Topic {
        refreshTopicsIfChanged()
        guard let topic = topics.withLock({ $0[name] }) else {
            if let unreadable = unreadable.withLock({ $0[name] }) { throw unreadable }
            throw ReservoirError(.topicNotFound, "topic \(name) does not exist in store \(directory): create it first")
        }
        return topic
    }

    /// The log of one partition, for direct reads and its offsets, segments and damage (appends go
    /// through the store, which applies the topic's rules).
    public func log(topic name: String, partition: Int) throws(ReservoirError) -> PartitionLog {
        try topic(name).log(partition)
    }
}
