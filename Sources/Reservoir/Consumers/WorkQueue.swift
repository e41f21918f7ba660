import CoreMetrics
import Synchronization

/// A work queue over a topic (point-to-point per record, like Kafka's share groups and JMS
/// queues): any number of consumers of a group take records so that each record is held by at
/// most one consumer at a time; each is acknowledged, released or rejected.
///
/// ```swift
/// let jobs = try store.queue(group: "mailer", topic: "orders")
/// for try await delivery in jobs { try await send(delivery.record); try delivery.ack() }
/// ```
///
/// Records are handed out in offset order within a partition. A record whose lock expires
/// becomes available again; after `maxDeliveries` it is archived (and copied to the dead-letter
/// topic). The state (per partition: the offset below which everything is done, and the state
/// and delivery count of the records above it) is written to `__queue_state` on every change
/// before the call returns, so a crash of the process never redelivers an acknowledged record and
/// redelivers the others with their delivery count kept.
public final class WorkQueue: AsyncSequence, Sendable {
    /// Each element is one record taken from the queue, to settle.
    public typealias Element = Delivery
    /// Taking fails with ``ReservoirError`` (or `CancellationError`).
    public typealias Failure = any Error

    /// The queue's group: consumers of one group share its records.
    public let group: String
    /// The topic the queue hands out.
    public let topic: String
    /// How the queue hands records out.
    public let options: QueueOptions
    let store: Reservoir
    private let state: Mutex<State>
    private let logs: [PartitionLog]
    /// `reservoir_queue_in_flight` (gauge), `reservoir_queue_acknowledged` and
    /// `reservoir_queue_dead_lettered` (counters), by `group` and `topic`.
    private let inFlightGauge: Gauge
    private let acknowledgedCounter: Counter
    private let deadLetteredCounter: Counter

    typealias Settlement = QueueWindow.Settlement

    /// One partition: where its records come from, and the window of those not yet done.
    private struct Partition {
        let partition: TopicPartition
        let fetcher: LogFetcher
        /// The partition's key in `__queue_state`, encoded once.
        let stateKey: [UInt8]
        var window: QueueWindow
    }

    private struct State {
        var partitions: [Partition]
        var turn = 0
        var nextToken = 1
        var waiters: [ObjectIdentifier: Wakeup] = [:]
        /// A lock-expiry timer is scheduled (one at a time: locks expire in the order taken).
        var timerPending = false
    }

    init(store: Reservoir, group: String, topic: Topic, options: QueueOptions, states: QueueStateStore) throws(ReservoirError) {
        self.store = store
        self.group = group
        self.topic = topic.name
        self.options = options
        logs = topic.partitions
        let dimensions = [("group", group), ("topic", topic.name)]
        inFlightGauge = Gauge(label: "reservoir_queue_in_flight", dimensions: dimensions)
        acknowledgedCounter = Counter(label: "reservoir_queue_acknowledged", dimensions: dimensions)
        deadLetteredCounter = Counter(label: "reservoir_queue_dead_lettered", dimensions: dimensions)
        var partitions: [Partition] = []
        for (index, log) in topic.partitions.enumerated() {
            let partition = TopicPartition(topic.name, index)
            let snapshot = states.snapshot(group: group, partition: partition)
            let start: Int64
            if let snapshot { start = snapshot.start } else { start = try LogFetcher.resolve(options.startAt, in: log, end: log.endOffset) }
            let fetcher = LogFetcher(
                log: log, start: .offset(start), isolation: options.isolation, outOfRange: .restartAtEarliest,
                maxBytes: 1 << 20)
            let window = QueueWindow(
                start: start, snapshot: snapshot, maxDeliveries: options.maxDeliveries,
                maxInFlight: options.maxInFlightPerPartition)
            partitions.append(
                Partition(
                    partition: partition, fetcher: fetcher,
                    stateKey: QueueStateStore.encode(key: .init(group: group, partition: partition)),
                    window: window))
        }
        state = Mutex(State(partitions: partitions))
    }

    // MARK: Taking

    /// Acquires up to `max` available records without waiting (empty when none is available).
    public func poll(max: Int = 100) throws(ReservoirError) -> [Delivery] {
        try acquire(max: max)
    }

    /// A record the queue would deliver next, as ``peek(max:)`` shows it.
    public struct Peeked: Sendable {
        /// The record.
        public let record: ConsumerRecord
        /// Deliveries so far (0 for a record never delivered).
        public let deliveryCount: Int
    }

    /// Up to `max` records available now, as the next ``poll(max:)`` would take them (per
    /// partition, lowest offsets first), without taking them: no lock, no delivery counted, and
    /// nothing written. Works in a store opened read-only.
    public func peek(max: Int = 100) throws(ReservoirError) -> [Peeked] {
        try store.checkOpen()
        return try state.withLock { (state) throws(ReservoirError) -> [Peeked] in
            var peeked: [Peeked] = []
            for index in state.partitions.indices where peeked.count < max {
                try fill(&state.partitions[index])
                peeked += state.partitions[index].window.peek(max: max - peeked.count).map {
                    Peeked(record: $0.record, deliveryCount: $0.deliveries)
                }
            }
            return peeked
        }
    }

    /// Acquires up to `max` records, waiting until at least one is available; empty when the
    /// task is cancelled or the store closes.
    public func take(max: Int = 100) async throws -> [Delivery] {
        let wakeup = Wakeup()
        register(wakeup)
        defer { unregister(wakeup) }
        while true {
            if Task.isCancelled || store.isClosed { return [] }
            let taken = try acquire(max: max)
            if !taken.isEmpty { return taken }
            await wakeup.wait()
        }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(queue: self) }

    /// Hands out deliveries one by one, acquiring `prefetch` at a time; ends when the task is
    /// cancelled or the store closes.
    public struct Iterator: AsyncIteratorProtocol {
        let queue: WorkQueue
        var pending: [Delivery] = []
        var index = 0

        public mutating func next() async throws -> Delivery? {
            if index == pending.count {
                pending = try await queue.take(max: Swift.max(1, queue.options.prefetch))
                index = 0
                if pending.isEmpty { return nil }
            }
            defer { index += 1 }
            return pending[index]
        }
    }

    private func register(_ wakeup: Wakeup) {
        state.withLock { $0.waiters[ObjectIdentifier(wakeup)] = wakeup }
        for log in logs { log.addObserver(wakeup, durable: options.isolation == .durable) }
    }

    private func unregister(_ wakeup: Wakeup) {
        state.withLock { $0.waiters[ObjectIdentifier(wakeup)] = nil }
        for log in logs { log.removeObserver(wakeup) }
    }

    private func signalWaiters() {
        for wakeup in state.withLock({ Array($0.waiters.values) }) { wakeup.signal() }
    }

    private func acquire(max: Int) throws(ReservoirError) -> [Delivery] {
        try store.checkNotReadOnly()
        let lock = timerNanoseconds(milliseconds: Swift.max(1, options.lockMilliseconds))
        let (taken, expiry) = try state.withLock { (state) throws(ReservoirError) -> ([Delivery], UInt64?) in
            let now = monotonicNanoseconds()
            var deadLetters: [QueueWindow.DeadLetter] = []
            for index in state.partitions.indices {
                state.partitions[index].window.expire(
                    now: now, deadLetters: &deadLetters, fetcherPosition: state.partitions[index].fetcher.position)
            }
            var taken: [Delivery] = []
            let count = state.partitions.count
            state.turn += 1
            for step in 0..<count where taken.count < max {
                let index = (state.turn + step) % count
                try fill(&state.partitions[index])
                taken += state.partitions[index].window.acquire(
                    max: max - taken.count, now: now, lock: lock, nextToken: &state.nextToken, deadLetters: &deadLetters
                ) { entry in Delivery(record: entry.record, deliveryCount: entry.deliveries, token: entry.token, queue: self) }
            }
            try deadLetter(deadLetters, partitions: &state.partitions)
            try persist(&state.partitions)
            inFlightGauge.record(state.partitions.reduce(0) { $0 + $1.window.acquired })
            guard !taken.isEmpty, !state.timerPending else { return (taken, nil) }
            state.timerPending = true
            return (taken, now + lock)
        }
        if let expiry { scheduleExpiry(at: expiry) }
        return taken
    }

    /// Wakes waiters when the locks run out, so that expired records are taken again.
    private func scheduleExpiry(at expiry: UInt64) {
        let now = monotonicNanoseconds()
        store.scheduleTimer(afterNanoseconds: (expiry > now ? expiry - now : 0) + 1_000_000) { [weak self] in self?.expireNow() }
    }

    /// Makes expired locks available again (or archives at the limit) and wakes waiters.
    private func expireNow() {
        var next: UInt64?
        let changed: Bool
        do throws(ReservoirError) {
            changed = try state.withLock { (state) throws(ReservoirError) -> Bool in
                var deadLetters: [QueueWindow.DeadLetter] = []
                let now = monotonicNanoseconds()
                var changed = false
                for index in state.partitions.indices {
                    changed =
                        state.partitions[index].window.expire(
                            now: now, deadLetters: &deadLetters, fetcherPosition: state.partitions[index].fetcher.position) || changed
                }
                try deadLetter(deadLetters, partitions: &state.partitions)
                try persist(&state.partitions)
                let earliest = state.partitions.filter { $0.window.acquired > 0 }.map(\.window.nextExpiry).min()
                state.timerPending = earliest != nil
                next = earliest
                return changed
            }
        } catch {
            // The state could not be written (the store is closing, a full disk): waiters retry
            // and meet the error themselves.
            changed = true
        }
        if let next { scheduleExpiry(at: next) }
        if changed { signalWaiters() }
    }

    /// Reads more records into the window when nothing is available and there is room.
    private func fill(_ partition: inout Partition) throws(ReservoirError) {
        guard partition.window.wantsRecords, let result = try partition.fetcher.poll() else { return }
        var records: [ConsumerRecord] = []
        do throws(ReservoirError) {
            try partition.fetcher.decode(result, topic: partition.partition.topic, partition: partition.partition.partition, into: &records)
        } catch {
            // Hand out what came before the damage; the next fill fails on it again.
            if records.isEmpty { throw error }
        }
        // The window is full: the rest is read again later.
        if let leftOut = partition.window.add(records) { partition.fetcher.seek(to: leftOut) }
        partition.window.advance(fetcherPosition: partition.fetcher.position)
    }

    // MARK: Settling

    func settle(_ deliveries: [Delivery], as settlement: Settlement) throws(ReservoirError) {
        guard !deliveries.isEmpty else { return }
        try store.checkOpen()
        try state.withLock { (state) throws(ReservoirError) in
            var deadLetters: [QueueWindow.DeadLetter] = []
            // Check every delivery first: a stale one changes nothing.
            for delivery in deliveries {
                let index = delivery.record.partition
                guard delivery.queue === self, index >= 0, index < state.partitions.count,
                    state.partitions[index].window.holds(delivery.record.offset, token: delivery.token)
                else {
                    throw ReservoirError(
                        .invalidArgument,
                        "the lock on \(delivery.record.topic)-\(delivery.record.partition) offset \(delivery.record.offset) expired or was already settled; it may have been delivered again"
                    )
                }
            }
            for delivery in deliveries {
                let index = delivery.record.partition
                state.partitions[index].window.settle(
                    delivery.record.offset, as: settlement, deadLetters: &deadLetters,
                    fetcherPosition: state.partitions[index].fetcher.position)
            }
            try deadLetter(deadLetters, partitions: &state.partitions)
            try persist(&state.partitions)
            if settlement == .ack { acknowledgedCounter.increment(by: deliveries.count) }
            inFlightGauge.record(state.partitions.reduce(0) { $0 + $1.window.acquired })
        }
        // Released records are available again; acknowledged ones make room in the window.
        signalWaiters()
    }

    /// Acknowledges many deliveries with one state write per partition.
    public func ack(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .ack) }
    /// Releases many deliveries at once.
    public func release(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .release) }
    /// Rejects many deliveries at once.
    public func reject(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .reject) }

    /// Copies archived records to the dead-letter topic with delivery metadata headers.
    private func deadLetter(_ entries: [QueueWindow.DeadLetter], partitions: inout [Partition]) throws(ReservoirError) {
        guard !entries.isEmpty, let target = options.deadLetterTopic else { return }
        let records = entries.map { entry, reason in
            Record(
                key: entry.record.key, value: entry.record.value,
                headers: entry.record.headers + [
                    RecordHeader("reservoir.dlq.topic", entry.record.topic),
                    RecordHeader("reservoir.dlq.partition", "\(entry.record.partition)"),
                    RecordHeader("reservoir.dlq.offset", "\(entry.record.offset)"),
                    RecordHeader("reservoir.dlq.group", group),
                    RecordHeader("reservoir.dlq.deliveries", "\(entry.deliveries)"),
                    RecordHeader("reservoir.dlq.reason", reason),
                ], timestamp: entry.record.timestamp)
        }
        try store.append(to: target, records: records, acks: .buffered)
        for (entry, _) in entries { partitions[entry.record.partition].window.countDeadLettered(1) }
        deadLetteredCounter.increment(by: entries.count)
    }

    /// Writes the snapshot of every changed partition to `__queue_state`.
    private func persist(_ partitions: inout [Partition]) throws(ReservoirError) {
        var records: [Record] = []
        var snapshots: [(TopicPartition, QueueStateStore.Snapshot)] = []
        for index in partitions.indices where partitions[index].window.dirty {
            let snapshot = partitions[index].window.snapshot()
            records.append(Record(key: partitions[index].stateKey, value: QueueStateStore.encode(value: snapshot)))
            snapshots.append((partitions[index].partition, snapshot))
        }
        guard !records.isEmpty else { return }
        try store.writeQueueState(records)
        for index in partitions.indices where partitions[index].window.dirty { partitions[index].window.markPersisted() }
        for (partition, snapshot) in snapshots { store.queueStates.remember(snapshot, group: group, partition: partition) }
    }

    // MARK: Status

    /// Counts for `queue describe`.
    public struct Status: Sendable, Hashable {
        /// Held by consumers now.
        public var inFlight: Int
        /// Delivered before but available again (released, expired, or held when a crash came).
        public var awaitingRedelivery: Int
        /// Acknowledged since the queue began (kept in its stored state).
        public var acknowledged: Int64
        /// Archived: rejected, or delivered `maxDeliveries` times.
        public var archived: Int64
        /// Archived records copied to the dead-letter topic.
        public var deadLettered: Int64
    }

    /// The queue's counts now.
    public var status: Status {
        state.withLock { state in
            var status = Status(inFlight: 0, awaitingRedelivery: 0, acknowledged: 0, archived: 0, deadLettered: 0)
            for window in state.partitions.map(\.window) {
                status.inFlight += window.acquired
                status.awaitingRedelivery += window.awaitingRedelivery
                status.acknowledged = status.acknowledged.clampedPlus(window.totals.acknowledged)
                status.archived = status.archived.clampedPlus(window.totals.archived)
                status.deadLettered = status.deadLettered.clampedPlus(window.totals.deadLettered)
            }
            return status
        }
    }
}
