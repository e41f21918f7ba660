import Logging
import Synchronization

/// A member of a consumer group (publish/subscribe): the group's members in this process share
/// the partitions of their topics, each partition read by exactly one live member, from the
/// group's committed offset. Every group sees every record.
///
/// ```swift
/// let billing = try store.consumer(group: "billing", topics: ["orders"])
/// for try await record in billing.records { try await charge(record) }   // auto-commit
/// ```
///
/// Members join when created and leave on ``close()``, when their owner lets go of them, or when
/// the store closes; a member that does not read for
/// ``ConsumerOptions/sessionTimeoutMilliseconds`` loses its partitions to the others until it
/// reads again. Each join or leave rebalances the group (see ``RebalanceEvent`` and ``events``).
public final class GroupConsumer: Sendable {
    /// The group this member belongs to.
    public let group: String
    /// This member's id in the group (`group-000001`).
    public let memberID: String
    /// The topics the member reads, sorted.
    public let topics: [String]
    /// How the member reads and commits.
    public let options: ConsumerOptions
    let store: Reservoir
    private let wakeup = Wakeup()
    private let generation = Atomic<Int>(0)
    private let state = Mutex(State())
    /// Records handed out from the current chunk (the iterator's progress, read by commits).
    private let handedInChunk = Atomic<Int>(0)
    /// When the member last read, or `waitingSince` it waits at the end of the log (monotonic ns).
    private let lastActive = Atomic<UInt64>(monotonicNanoseconds())
    private let waiting = Atomic<Int>(0)
    /// Taken out of the group by the session timeout: joins again at its next read.
    private let evicted = Atomic<Bool>(false)
    /// Rebalance events, as they happen.
    public let events: AsyncStream<RebalanceEvent>
    private let eventSink: AsyncStream<RebalanceEvent>.Continuation

    private struct State {
        var cursors: [TopicPartition: LogFetcher] = [:]
        /// Next offset after the last record handed out, per partition, for commits.
        var handedOut: [TopicPartition: Int64] = [:]
        /// The partition and offsets of the chunk being handed out.
        var chunk: (partition: TopicPartition, offsets: [Int64])?
        var lastCommit: UInt64 = monotonicNanoseconds()
        var closed = false
        var turn = 0
    }

    init(store: Reservoir, group: String, memberID: String, topics: [String], options: ConsumerOptions) {
        self.store = store
        self.group = group
        self.memberID = memberID
        self.topics = topics
        self.options = options
        (events, eventSink) = AsyncStream.makeStream(of: RebalanceEvent.self, bufferingPolicy: .bufferingNewest(1024))
    }

    deinit {
        // Let go of without close(): commit (auto mode) and leave, so that the others read its
        // partitions at once.
        guard markClosed(), !store.isClosed else { return }
        if case .auto = options.commit {
            do throws(ReservoirError) { try commitHandedOut(acks: .durable) } catch {
                store.options.logger.warning(
                    "a consumer let go of without close() could not commit", metadata: ["group": "\(group)", "error": "\(error)"])
            }
        }
        do throws(ReservoirError) { try store.leave(memberID: memberID, group: group) } catch {
            store.options.logger.warning(
                "a consumer let go of without close() could not leave", metadata: ["group": "\(group)", "error": "\(error)"])
        }
        eventSink.finish()
    }

    // MARK: Session

    /// Records that the member reads now (handing out a long chunk, between fetches).
    fileprivate func touch() { lastActive.store(monotonicNanoseconds(), ordering: .relaxed) }

    /// Records that the member reads now; a member the session timeout took out joins again.
    private func active() throws(ReservoirError) {
        touch()
        if evicted.exchange(false, ordering: .acquiringAndReleasing), !state.withLock({ $0.closed }) {
            try store.rejoin(self)
        }
    }

    /// Whether the member went longer than its session timeout without reading (and is not
    /// waiting for records).
    func isSilent(now: UInt64) -> Bool {
        guard waiting.load(ordering: .relaxed) == 0, !evicted.load(ordering: .relaxed), !state.withLock({ $0.closed }) else {
            return false
        }
        // A member that read after the sweep took `now` is not silent (the difference would wrap).
        let last = lastActive.load(ordering: .relaxed)
        return now > last && now - last > timerNanoseconds(milliseconds: options.sessionTimeoutMilliseconds)
    }

    /// Taken out of the group by the session timeout.
    func markEvicted() { evicted.store(true, ordering: .releasing) }

    /// The partitions this member reads now.
    public var assignment: [TopicPartition] { state.withLock { $0.cursors.keys.sorted() } }
    var currentAssignment: Set<TopicPartition> { state.withLock { Set($0.cursors.keys) } }

    // MARK: Rebalance (called by the coordinator, under its lock)

    func assign(_ partitions: Set<TopicPartition>) throws(ReservoirError) {
        var cursors: [TopicPartition: LogFetcher] = [:]
        for partition in partitions {
            let log = try store.log(topic: partition.topic, partition: partition.partition)
            let start =
                store.offsetStore.committed(group: group, partition: partition).map { StartPosition.offset($0.offset) }
                ?? options.resetTo
            cursors[partition] = LogFetcher(
                log: log, start: start, isolation: options.isolation, outOfRange: .restartAtEarliest,
                maxBytes: options.maxBytes, wakeup: wakeup)
        }
        state.withLock { state in
            for (partition, cursor) in cursors { state.cursors[partition] = cursor }
        }
        generation.add(1, ordering: .releasing)
        wakeup.signal()
    }

    func revoke(_ partitions: Set<TopicPartition>) throws(ReservoirError) {
        settleChunk()
        let commits = state.withLock { state -> [TopicPartition: CommittedOffset] in
            var commits: [TopicPartition: CommittedOffset] = [:]
            let now = wallClockMilliseconds()
            for partition in partitions {
                if let next = state.handedOut[partition] {
                    commits[partition] = CommittedOffset(offset: next, metadata: "", commitTimestamp: now)
                }
                state.cursors[partition] = nil
                state.handedOut[partition] = nil
            }
            if let chunk = state.chunk, partitions.contains(chunk.partition) { state.chunk = nil }
            return commits
        }
        generation.add(1, ordering: .releasing)
        if !commits.isEmpty { try store.commitOffsets(group: group, commits, acks: .buffered) }
    }

    func deliver(_ event: RebalanceEvent) {
        eventSink.yield(event)
        options.onRebalance?(event)
    }

    // MARK: Reading

    /// The member's records, from all its partitions, waiting for new ones at the end; ends when
    /// the member closes, its task is cancelled, or the store closes. One iteration at a time.
    public var records: Records { Records(member: self) }

    /// The member's records, as ``records`` hands them out.
    public struct Records: AsyncSequence, Sendable {
        /// Each element is one record of an assigned partition.
        public typealias Element = ConsumerRecord
        /// Reading fails with ``ReservoirError`` (or `CancellationError`).
        public typealias Failure = any Error
        let member: GroupConsumer

        public func makeAsyncIterator() -> Iterator { Iterator(member: member) }

        /// Reads the member's records, waiting at the end of its partitions.
        public struct Iterator: AsyncIteratorProtocol {
            let member: GroupConsumer
            var buffer: [ConsumerRecord] = []
            var index = 0
            var generation = -1

            init(member: GroupConsumer) { self.member = member }

            public mutating func next() async throws -> ConsumerRecord? {
                while true {
                    let current = member.generation.load(ordering: .acquiring)
                    if current != generation {
                        // The assignment changed: drop what was fetched from partitions now gone.
                        generation = current
                        if let first = buffer.first, index < buffer.count,
                            !member.currentAssignment.contains(TopicPartition(first.topic, first.partition))
                        {
                            buffer.removeAll(keepingCapacity: true)
                            index = 0
                        }
                    }
                    if index < buffer.count {
                        defer { index += 1 }
                        // Everything handed out before this record was processed (the loop asks for
                        // the next): auto-commit covers it, checked every 256 records of long chunks.
                        if index & 255 == 255 {
                            member.touch()
                            try member.autoCommitIfDue()
                        }
                        member.handedInChunk.store(index + 1, ordering: .relaxed)
                        return buffer[index]
                    }
                    guard try await member.fetch(into: &buffer) else { return nil }
                    index = 0
                }
            }
        }
    }

    /// Takes up to `maxRecords` records that are already there, without waiting: the synchronous
    /// way to consume (the CLI's). Records returned count as handed out.
    public func poll(maxRecords: Int = 500) throws -> [ConsumerRecord] {
        try active()
        var result: [ConsumerRecord] = []
        while result.count < maxRecords {
            var chunk: [ConsumerRecord] = []
            guard try fetchOnce(into: &chunk) else { break }
            let taken = chunk.prefix(maxRecords - result.count)
            result += taken
            markHandedOut(count: taken.count)
            if taken.count < chunk.count {
                // Put the rest back: the next poll starts after what was handed out.
                if let last = taken.last { seekInternal(TopicPartition(last.topic, last.partition), to: last.offset + 1) }
                break
            }
        }
        return result
    }

    private func markHandedOut(count: Int) {
        handedInChunk.store(count, ordering: .relaxed)
        settleChunk()
    }

    /// Fetches the next chunk into `buffer`, waiting at the end; false when done.
    fileprivate func fetch(into buffer: inout [ConsumerRecord]) async throws -> Bool {
        while true {
            if Task.isCancelled || store.isClosed || state.withLock({ $0.closed }) { return false }
            try active()
            if try fetchOnce(into: &buffer) { return true }
            // Waiting at the end of the log is reading: the session does not time out meanwhile.
            waiting.add(1, ordering: .relaxed)
            await wakeup.wait()
            waiting.subtract(1, ordering: .relaxed)
        }
    }

    /// One pass over the assigned partitions (starting after the last one served, for fairness);
    /// true when records were fetched into `buffer`.
    private func fetchOnce(into buffer: inout [ConsumerRecord]) throws -> Bool {
        settleChunk()
        try autoCommitIfDue()
        let (cursors, turn) = state.withLock { state -> ([(TopicPartition, LogFetcher)], Int) in
            state.turn += 1
            return (state.cursors.sorted { $0.key < $1.key }, state.turn)
        }
        guard !cursors.isEmpty else { return false }
        buffer.removeAll(keepingCapacity: true)
        for step in 0..<cursors.count {
            let (partition, cursor) = cursors[(turn + step) % cursors.count]
            guard let result = try cursor.poll() else { continue }
            do throws(ReservoirError) {
                try cursor.decode(result, topic: partition.topic, partition: partition.partition, into: &buffer)
            } catch {
                // Hand out what came before the damage; the next fetch fails on it again.
                if buffer.isEmpty { throw error }
            }
            if buffer.isEmpty { continue }
            let offsets = buffer.map(\.offset)
            let stillAssigned = state.withLock { state -> Bool in
                guard state.cursors[partition] === cursor else { return false }
                state.chunk = (partition, offsets)
                return true
            }
            handedInChunk.store(0, ordering: .relaxed)
            if stillAssigned { return true }
            buffer.removeAll(keepingCapacity: true)
        }
        return false
    }

    /// Folds the handed-out part of the current chunk into the committed-to-be positions.
    private func settleChunk() {
        let handed = handedInChunk.load(ordering: .relaxed)
        state.withLock { state in
            guard let chunk = state.chunk, handed > 0 else { return }
            state.handedOut[chunk.partition] = chunk.offsets[min(handed, chunk.offsets.count) - 1] + 1
        }
    }

    fileprivate func autoCommitIfDue() throws {
        guard case .auto(let interval) = options.commit else { return }
        let due = state.withLock { state -> Bool in
            let now = monotonicNanoseconds()
            guard now - state.lastCommit >= timerNanoseconds(milliseconds: interval) else { return false }
            state.lastCommit = now
            return true
        }
        if due { try commitHandedOut(acks: .buffered) }
    }

    // MARK: Committing

    private func pendingCommits() -> [TopicPartition: CommittedOffset] {
        settleChunk()
        let now = wallClockMilliseconds()
        return state.withLock { state in
            var commits: [TopicPartition: CommittedOffset] = [:]
            for (partition, next) in state.handedOut where state.cursors[partition] != nil {
                if store.offsetStore.committed(group: group, partition: partition)?.offset != next {
                    commits[partition] = CommittedOffset(offset: next, metadata: "", commitTimestamp: now)
                }
            }
            return commits
        }
    }

    private func commitHandedOut(acks: Acks) throws(ReservoirError) {
        let commits = pendingCommits()
        if !commits.isEmpty { try store.commitOffsets(group: group, commits, acks: acks) }
    }

    /// Commits, durably, the position after every record handed out so far.
    public func commit() async throws {
        try active()
        let commits = pendingCommits()
        if !commits.isEmpty { try await store.commitOffsets(group: group, commits) }
    }

    /// As ``commit()``, blocking the calling thread for the fsync.
    public func commitSync() throws(ReservoirError) {
        try active()
        try commitHandedOut(acks: .durable)
    }

    /// Commits explicit next offsets (with optional metadata), durably, for partitions this
    /// member reads.
    ///
    /// - Throws: ``ReservoirError/Code/invalidArgument`` for a partition not assigned to it.
    public func commit(_ offsets: [TopicPartition: Int64], metadata: String = "") async throws {
        let assigned = currentAssignment
        if let stranger = offsets.keys.sorted().first(where: { !assigned.contains($0) }) {
            throw ReservoirError(.invalidArgument, "\(stranger) is not assigned to member \(memberID) of group \(group)")
        }
        guard metadata.utf8.count <= OffsetStore.maxMetadataBytes else {
            throw ReservoirError(
                .invalidArgument, "commit metadata is \(metadata.utf8.count) bytes, over the limit of \(OffsetStore.maxMetadataBytes)")
        }
        let now = wallClockMilliseconds()
        try await store.commitOffsets(
            group: group, offsets.mapValues { CommittedOffset(offset: $0, metadata: metadata, commitTimestamp: now) })
    }

    // MARK: Positions

    /// Moves the member's position in `partition` (assigned to it) to `position`.
    public func seek(_ partition: TopicPartition, to position: StartPosition) throws(ReservoirError) {
        guard let cursor = state.withLock({ $0.cursors[partition] }) else {
            throw ReservoirError(.invalidArgument, "\(partition) is not assigned to member \(memberID) of group \(group)")
        }
        let offset = try LogFetcher.resolve(position, in: cursor.log, end: cursor.log.endOffset)
        seekInternal(partition, to: offset)
    }

    private func seekInternal(_ partition: TopicPartition, to offset: Int64) {
        state.withLock { state in
            state.cursors[partition]?.seek(to: offset)
            if state.chunk?.partition == partition { state.chunk = nil }
            state.handedOut[partition] = offset
        }
        generation.add(1, ordering: .releasing)
    }

    /// Per assigned partition: the end offset minus the committed offset (or minus the log start
    /// when nothing is committed).
    public func lag() -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for (partition, cursor) in state.withLock({ $0.cursors }) {
            let committed = store.offsetStore.committed(group: group, partition: partition)?.offset ?? cursor.log.startOffset
            result[partition] = max(0, cursor.log.endOffset.clampedMinus(committed))
        }
        return result
    }

    // MARK: Leaving

    /// Commits (in auto-commit mode), leaves the group (its partitions go to the other members)
    /// and ends ``records``.
    public func close() throws(ReservoirError) {
        guard markClosed() else { return }
        if case .auto = options.commit, !store.isClosed { try commitHandedOut(acks: .durable) }
        if !store.isClosed { try store.leave(self) }
        wakeup.signal()
        eventSink.finish()
    }

    /// Marks the member closed; true the first time.
    private func markClosed() -> Bool {
        state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
    }

    /// Called by the store as it closes: commit, stop, no rebalance.
    func storeClosing() {
        if markClosed(), case .auto = options.commit { try? commitHandedOut(acks: .durable) }
        wakeup.signal()
        eventSink.finish()
    }
}
