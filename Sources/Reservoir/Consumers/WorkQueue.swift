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
    public typealias Element = Delivery
    public typealias Failure = any Error

    public let group: String
    public let topic: String
    public let options: QueueOptions
    let store: Reservoir
    private let state: Mutex<State>
    private let logs: [PartitionLog]

    enum Settlement { case ack, release, reject }

    private enum EntryState { case available, acquired, acknowledged, archived }

    private struct Entry {
        var record: ConsumerRecord
        var state: EntryState
        var deliveries: Int
        var token = 0
        var expiry: UInt64 = 0
        var isDone: Bool { state == .acknowledged || state == .archived }
    }

    private struct Partition {
        let log: PartitionLog
        let partition: TopicPartition
        let fetcher: LogFetcher
        /// The partition's key in `__queue_state`, encoded once.
        let stateKey: [UInt8]
        /// Offsets of the records in the window, ascending; `head` is the first not yet done.
        /// Offsets of the records in the window, ascending, and their entries at the same
        /// indexes; `head` is the first not yet done. Arrays, not dictionaries: a snapshot walks
        /// the window on every change, and that walk must cost about a nanosecond an entry.
        var order: [Int64] = []
        var slots: [Entry] = []
        var head = 0
        /// Indexes past the last entry ever taken out of its first state: snapshot walks stop there.
        var touchedEnd = 0
        /// Available offsets, descending, so that the lowest is taken from the end.
        var available: [Int64] = []

        /// The index of `offset` in the window.
        func index(of offset: Int64) -> Int? {
            var low = head
            var high = order.count
            while low < high {
                let middle = (low + high) / 2
                if order[middle] < offset { low = middle + 1 } else { high = middle }
            }
            return low < order.count && order[low] == offset ? low : nil
        }
        var acquired = 0
        /// No lock in this partition expires before this (monotonic ns).
        var nextExpiry = UInt64.max
        /// State recovered from the last snapshot, for records not fetched again yet.
        var recovered: [QueueStateStore.Run] = []
        var start: Int64
        var totals: (acknowledged: Int64, archived: Int64, deadLettered: Int64) = (0, 0, 0)
        var dirty = false
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
        var partitions: [Partition] = []
        for (index, log) in topic.partitions.enumerated() {
            let partition = TopicPartition(topic.name, index)
            let snapshot = states.snapshot(group: group, partition: partition)
            let start: Int64
            if let snapshot { start = snapshot.start } else { start = try LogFetcher.resolve(options.startAt, in: log, end: log.endOffset) }
            let fetcher = LogFetcher(log: log, start: .offset(start), isolation: options.isolation, outOfRange: .restartAtEarliest,
                                     maxBytes: 1 << 20)
            var entry = Partition(log: log, partition: partition, fetcher: fetcher,
                                  stateKey: QueueStateStore.encodeKey(group: group, partition: partition), start: start)
            entry.recovered = snapshot?.runs ?? []
            if let snapshot { entry.totals = (snapshot.acknowledged, snapshot.archived, snapshot.deadLettered) }
            partitions.append(entry)
        }
        state = Mutex(State(partitions: partitions))
    }

    // MARK: Taking

    /// Acquires up to `max` available records without waiting (empty when none is available).
    public func poll(max: Int = 100) throws(ReservoirError) -> [Delivery] {
        try acquire(max: max)
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
        let lock = timerNanoseconds(milliseconds: Swift.max(1, options.lockMilliseconds))
        let (taken, expiry) = try state.withLock { (state) throws(ReservoirError) -> ([Delivery], UInt64?) in
            let now = monotonicNanoseconds()
            var deadLetters: [(Entry, String)] = []
            for index in state.partitions.indices { expire(&state.partitions[index], now: now, deadLetters: &deadLetters) }
            var taken: [Delivery] = []
            let count = state.partitions.count
            state.turn += 1
            for step in 0..<count where taken.count < max {
                let index = (state.turn + step) % count
                try fill(&state.partitions[index])
                taken += take(from: &state.partitions[index], max: max - taken.count, now: now, lock: lock,
                              nextToken: &state.nextToken, deadLetters: &deadLetters)
            }
            try deadLetter(deadLetters, partitions: &state.partitions)
            try persist(&state.partitions)
            guard !taken.isEmpty, !state.timerPending else { return (taken, nil) }
            state.timerPending = true
            return (taken, now + lock)
        }
        if let expiry { scheduleExpiry(at: expiry) }
        return taken
    }

    /// Acquires up to `max` available records of one partition, lowest offsets first (in place:
    /// the partition's arrays are never copied).
    private func take(
        from partition: inout Partition, max: Int, now: UInt64, lock: UInt64, nextToken: inout Int, deadLetters: inout [(Entry, String)]
    ) -> [Delivery] {
        var taken: [Delivery] = []
        while taken.count < max, partition.acquired < options.maxInFlightPerPartition, let offset = partition.available.popLast() {
            guard let slot = partition.index(of: offset) else { continue }
            partition.touchedEnd = Swift.max(partition.touchedEnd, slot + 1)
            partition.dirty = true
            if partition.slots[slot].deliveries >= options.maxDeliveries {
                // Delivered as often as allowed (its last delivery was cut short by a crash).
                partition.slots[slot].state = .archived
                deadLetters.append((partition.slots[slot], "max-deliveries"))
                partition.totals.archived += 1
                continue
            }
            partition.slots[slot].state = .acquired
            partition.slots[slot].deliveries += 1
            partition.slots[slot].token = nextToken
            partition.slots[slot].expiry = now + lock
            nextToken += 1
            partition.acquired += 1
            partition.nextExpiry = Swift.min(partition.nextExpiry, now + lock)
            let entry = partition.slots[slot]
            taken.append(Delivery(record: entry.record, deliveryCount: entry.deliveries, token: entry.token, queue: self))
        }
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
        let changed = (try? state.withLock { (state) throws(ReservoirError) -> Bool in
            var deadLetters: [(Entry, String)] = []
            let now = monotonicNanoseconds()
            var changed = false
            for index in state.partitions.indices {
                changed = expire(&state.partitions[index], now: now, deadLetters: &deadLetters) || changed
            }
            try deadLetter(deadLetters, partitions: &state.partitions)
            try persist(&state.partitions)
            let earliest = state.partitions.filter { $0.acquired > 0 }.map(\.nextExpiry).min()
            state.timerPending = earliest != nil
            next = earliest
            return changed
        }) ?? true
        if let next { scheduleExpiry(at: next) }
        if changed { signalWaiters() }
    }

    @discardableResult
    private func expire(_ partition: inout Partition, now: UInt64, deadLetters: inout [(Entry, String)]) -> Bool {
        guard partition.acquired > 0, partition.nextExpiry <= now else { return false }
        var changed = false
        var nextExpiry = UInt64.max
        for slot in partition.head..<partition.touchedEnd {
            var entry = partition.slots[slot]
            guard entry.state == .acquired else { continue }
            let offset = partition.order[slot]
            guard entry.expiry <= now else {
                nextExpiry = Swift.min(nextExpiry, entry.expiry)
                continue
            }
            partition.acquired -= 1
            changed = true
            partition.dirty = true
            if entry.deliveries >= options.maxDeliveries {
                entry.state = .archived
                deadLetters.append((entry, "max-deliveries"))
                partition.totals.archived += 1
            } else {
                entry.state = .available
                insertAvailable(offset, into: &partition)
            }
            partition.slots[slot] = entry
        }
        partition.nextExpiry = nextExpiry
        if changed { advance(&partition) }
        return changed
    }

    /// Reads more records into the window when nothing is available and there is room.
    private func fill(_ partition: inout Partition) throws(ReservoirError) {
        guard partition.available.isEmpty, partition.order.count - partition.head < options.maxInFlightPerPartition else { return }
        guard let result = try partition.fetcher.poll() else { return }
        var records: [ConsumerRecord] = []
        do throws(ReservoirError) {
            try partition.fetcher.decode(result, topic: partition.partition.topic, partition: partition.partition.partition, into: &records)
        } catch {
            // Hand out what came before the damage; the next fill fails on it again.
            if records.isEmpty { throw error }
        }
        let room = options.maxInFlightPerPartition - (partition.order.count - partition.head)
        var added = 0
        var fresh: [Int64] = []
        for record in records where record.offset >= partition.start && record.offset > (partition.order.last ?? Int64.min) {
            if added == room {
                // The window is full: read the rest again later.
                partition.fetcher.seek(to: record.offset)
                break
            }
            added += 1
            var entry = Entry(record: record, state: .available, deliveries: 0)
            while let run = partition.recovered.first, run.last < record.offset { partition.recovered.removeFirst() }
            if let run = partition.recovered.first, run.first <= record.offset {
                entry.deliveries = run.deliveries
                switch run.state {
                case .acknowledged: entry.state = .acknowledged
                case .archived: entry.state = .archived
                case .available: entry.state = .available
                }
            }
            partition.order.append(record.offset)
            partition.slots.append(entry)
            if entry.state != .available || entry.deliveries > 0 { partition.touchedEnd = partition.order.count }
            if entry.state == .available { fresh.append(record.offset) }
        }
        // Fresh offsets are higher than any available one: they go in front (the array is descending).
        partition.available.insert(contentsOf: fresh.reversed(), at: 0)
        advance(&partition)
    }

    private func insertAvailable(_ offset: Int64, into partition: inout Partition) {
        // Descending order: find the first element smaller than `offset`.
        var low = 0
        var high = partition.available.count
        while low < high {
            let middle = (low + high) / 2
            if partition.available[middle] > offset { low = middle + 1 } else { high = middle }
        }
        partition.available.insert(offset, at: low)
    }

    /// Moves the start past the records at the front of the window that are done.
    private func advance(_ partition: inout Partition) {
        while partition.head < partition.order.count, partition.slots[partition.head].isDone {
            partition.head += 1
        }
        partition.touchedEnd = Swift.max(partition.touchedEnd, partition.head)
        let newStart = partition.head < partition.order.count ? partition.order[partition.head] : (partition.fetcher.position ?? partition.start)
        if newStart != partition.start {
            partition.start = newStart
            partition.dirty = true
        }
        if partition.head > 4096 && partition.head * 2 > partition.order.count {
            partition.order.removeFirst(partition.head)
            partition.slots.removeFirst(partition.head)
            partition.touchedEnd -= partition.head
            partition.head = 0
        }
    }

    // MARK: Settling

    func settle(_ deliveries: [Delivery], as settlement: Settlement) throws(ReservoirError) {
        guard !deliveries.isEmpty else { return }
        try store.checkOpen()
        try state.withLock { (state) throws(ReservoirError) in
            var deadLetters: [(Entry, String)] = []
            // Check every delivery first: a stale one changes nothing.
            for delivery in deliveries {
                let index = delivery.record.partition
                guard delivery.queue === self, index >= 0, index < state.partitions.count,
                    let slot = state.partitions[index].index(of: delivery.record.offset),
                    state.partitions[index].slots[slot].state == .acquired, state.partitions[index].slots[slot].token == delivery.token
                else {
                    throw ReservoirError(.invalidArgument, "the lock on \(delivery.record.topic)-\(delivery.record.partition) offset \(delivery.record.offset) expired or was already settled; it may have been delivered again")
                }
            }
            for delivery in deliveries {
                let index = delivery.record.partition
                settle(delivery, in: &state.partitions[index], as: settlement, deadLetters: &deadLetters)
            }
            try deadLetter(deadLetters, partitions: &state.partitions)
            try persist(&state.partitions)
        }
        // Released records are available again; acknowledged ones make room in the window.
        signalWaiters()
    }

    private func settle(_ delivery: Delivery, in partition: inout Partition, as settlement: Settlement, deadLetters: inout [(Entry, String)]) {
        guard let slot = partition.index(of: delivery.record.offset) else { return }
        partition.acquired -= 1
        switch settlement {
        case .ack:
            partition.slots[slot].state = .acknowledged
            partition.totals.acknowledged += 1
        case .reject:
            partition.slots[slot].state = .archived
            partition.totals.archived += 1
            deadLetters.append((partition.slots[slot], "rejected"))
        case .release:
            if partition.slots[slot].deliveries >= options.maxDeliveries {
                partition.slots[slot].state = .archived
                partition.totals.archived += 1
                deadLetters.append((partition.slots[slot], "max-deliveries"))
            } else {
                partition.slots[slot].state = .available
                insertAvailable(delivery.record.offset, into: &partition)
            }
        }
        partition.dirty = true
        advance(&partition)
    }

    /// Acknowledges many deliveries with one state write per partition.
    public func ack(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .ack) }
    /// Releases many deliveries at once.
    public func release(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .release) }
    /// Rejects many deliveries at once.
    public func reject(_ deliveries: [Delivery]) throws(ReservoirError) { try settle(deliveries, as: .reject) }

    /// Copies archived records to the dead-letter topic with delivery metadata headers.
    private func deadLetter(_ entries: [(Entry, String)], partitions: inout [Partition]) throws(ReservoirError) {
        guard !entries.isEmpty, let target = options.deadLetterTopic else { return }
        let records = entries.map { entry, reason in
            Record(key: entry.record.key, value: entry.record.value, headers: entry.record.headers + [
                RecordHeader("reservoir.dlq.topic", entry.record.topic),
                RecordHeader("reservoir.dlq.partition", "\(entry.record.partition)"),
                RecordHeader("reservoir.dlq.offset", "\(entry.record.offset)"),
                RecordHeader("reservoir.dlq.group", group),
                RecordHeader("reservoir.dlq.deliveries", "\(entry.deliveries)"),
                RecordHeader("reservoir.dlq.reason", reason),
            ], timestamp: entry.record.timestamp)
        }
        try store.append(to: target, records: records, acks: .buffered)
        for (entry, _) in entries { partitions[entry.record.partition].totals.deadLettered += 1 }
    }

    /// Writes a snapshot of every changed partition to `__queue_state`.
    private func persist(_ partitions: inout [Partition]) throws(ReservoirError) {
        var records: [Record] = []
        var snapshots: [(TopicPartition, QueueStateStore.Snapshot)] = []
        for index in partitions.indices where partitions[index].dirty {
            let snapshot = Self.snapshot(of: partitions[index])
            snapshots.append((partitions[index].partition, snapshot))
            records.append(Record(key: partitions[index].stateKey,
                                  value: QueueStateStore.encode(snapshot)))
            partitions[index].dirty = false
        }
        guard !records.isEmpty else { return }
        try store.appendRecords(to: QueueStateStore.topic, records: records, partition: 0, acks: .buffered, caller: .store)
        for (partition, snapshot) in snapshots { store.queueStates.remember(snapshot, group: group, partition: partition) }
    }

    private static func snapshot(of partition: Partition) -> QueueStateStore.Snapshot {
        var runs: [QueueStateStore.Run] = []
        for slot in partition.head..<partition.touchedEnd {
            // Fields read in place: copying an entry (a record with its references) costs more
            // than the rest of the walk.
            let entryState = partition.slots[slot].state
            let deliveries = partition.slots[slot].deliveries
            let offset = partition.order[slot]
            let state: QueueStateStore.RecordState
            switch entryState {
            case .acknowledged: state = .acknowledged
            case .archived: state = .archived
            case .available, .acquired: state = .available
            }
            guard state != .available || deliveries > 0 else { continue }
            if let last = runs.last, last.state == state, last.deliveries == deliveries {
                runs[runs.count - 1].last = offset
            } else {
                runs.append(QueueStateStore.Run(first: offset, last: offset, state: state, deliveries: deliveries))
            }
        }
        // Records recovered but not fetched again keep their state.
        runs += partition.recovered.filter { run in run.first > (partition.order.last ?? Int64.min) }
        return QueueStateStore.Snapshot(start: partition.start, runs: runs, acknowledged: partition.totals.acknowledged,
                                        archived: partition.totals.archived, deadLettered: partition.totals.deadLettered)
    }

    // MARK: Status

    /// Counts for `queue describe`.
    public struct Status: Sendable, Hashable {
        /// Held by consumers now.
        public var inFlight: Int
        /// Delivered before but available again (released, expired, or held when a crash came).
        public var awaitingRedelivery: Int
        public var acknowledged: Int64
        public var archived: Int64
        public var deadLettered: Int64
    }

    public var status: Status {
        state.withLock { state in
            var status = Status(inFlight: 0, awaitingRedelivery: 0, acknowledged: 0, archived: 0, deadLettered: 0)
            for partition in state.partitions {
                status.inFlight += partition.acquired
                status.awaitingRedelivery += partition.available.filter { offset in
                    partition.index(of: offset).map { partition.slots[$0].deliveries > 0 } ?? false
                }.count
                status.acknowledged = status.acknowledged.clampedPlus(partition.totals.acknowledged)
                status.archived = status.archived.clampedPlus(partition.totals.archived)
                status.deadLettered = status.deadLettered.clampedPlus(partition.totals.deadLettered)
            }
            return status
        }
    }
}
