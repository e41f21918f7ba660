/// The records of one partition that a work queue has read and not yet finished with: their
/// states (available, acquired, acknowledged, archived), delivery counts and locks, and the start
/// offset below which everything is done.
///
/// A pure value: no I/O, no clock of its own (callers pass `now`), no lock. ``WorkQueue`` keeps
/// one per partition under its mutex, feeds it records from the log, and persists its
/// ``snapshot()`` after every change.
struct QueueWindow {
    enum EntryState { case available, acquired, acknowledged, archived }

    struct Entry {
        var record: ConsumerRecord
        var state: EntryState
        var deliveries: Int
        var token = 0
        var expiry: UInt64 = 0
        var isDone: Bool { state == .acknowledged || state == .archived }
    }

    /// How a delivery ends.
    enum Settlement { case ack, release, reject }

    /// A record archived now, to copy to the dead-letter topic, and why.
    typealias DeadLetter = (entry: Entry, reason: String)

    /// Offsets of the records in the window, ascending, and their entries at the same indexes;
    /// `head` is the first not yet done. Arrays, not dictionaries: a snapshot walks the window on
    /// every change, and that walk must cost about a nanosecond an entry.
    private(set) var order: [Int64] = []
    private(set) var slots: [Entry] = []
    private(set) var head = 0
    /// Indexes past the last entry ever taken out of its first state: snapshot walks stop there.
    private var touchedEnd = 0
    /// Available offsets, descending, so that the lowest is taken from the end.
    private(set) var available: [Int64] = []
    /// Records acquired and not settled.
    private(set) var acquired = 0
    /// No lock expires before this (monotonic ns).
    private(set) var nextExpiry = UInt64.max
    /// State recovered from the last snapshot, for records not read again yet.
    private var recovered: [QueueStateStore.Run]
    /// Every record below this offset is done.
    private(set) var start: Int64
    private(set) var totals: (acknowledged: Int64, archived: Int64, deadLettered: Int64) = (0, 0, 0)
    /// Changed since the last ``markPersisted()``.
    private(set) var dirty = false
    let maxDeliveries: Int
    let maxInFlight: Int

    /// A window starting at `start`, or where `snapshot` left off.
    init(start: Int64, snapshot: QueueStateStore.Snapshot?, maxDeliveries: Int, maxInFlight: Int) {
        self.start = snapshot?.start ?? start
        recovered = snapshot?.runs ?? []
        if let snapshot { totals = (snapshot.acknowledged, snapshot.archived, snapshot.deadLettered) }
        self.maxDeliveries = maxDeliveries
        self.maxInFlight = maxInFlight
    }

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

    /// Whether the window wants more records: none available and room left.
    var wantsRecords: Bool { available.isEmpty && order.count - head < maxInFlight }

    /// The highest offset read into the window.
    var lastOffset: Int64? { order.last }

    // MARK: Reading records in

    /// Adds records read from the log (those below the start or already in the window are
    /// skipped), taking their state from the recovered snapshot. Returns the offset of the first
    /// record left out because the window is full, to read again later.
    mutating func add(_ records: [ConsumerRecord]) -> Int64? {
        let room = maxInFlight - (order.count - head)
        var added = 0
        var fresh: [Int64] = []
        var leftOut: Int64?
        for record in records where record.offset >= start && record.offset > (order.last ?? Int64.min) {
            if added == room {
                leftOut = record.offset
                break
            }
            added += 1
            var entry = Entry(record: record, state: .available, deliveries: 0)
            while let run = recovered.first, run.last < record.offset { recovered.removeFirst() }
            if let run = recovered.first, run.first <= record.offset {
                entry.deliveries = run.deliveries
                switch run.state {
                case .acknowledged: entry.state = .acknowledged
                case .archived: entry.state = .archived
                case .available: entry.state = .available
                }
            }
            order.append(record.offset)
            slots.append(entry)
            if entry.state != .available || entry.deliveries > 0 { touchedEnd = order.count }
            if entry.state == .available { fresh.append(record.offset) }
        }
        // Fresh offsets are higher than any available one: they go in front (the array is descending).
        available.insert(contentsOf: fresh.reversed(), at: 0)
        return leftOut
    }

    // MARK: Acquiring

    /// Acquires up to `max` available records, lowest offsets first, locked until `now + lock`,
    /// and returns what `take` makes of each (read in place, not copied out of the window);
    /// records delivered `maxDeliveries` times already (a crash cut the last short) are archived
    /// into `deadLetters` instead.
    mutating func acquire<Taken>(
        max: Int, now: UInt64, lock: UInt64, nextToken: inout Int, deadLetters: inout [DeadLetter], _ take: (Entry) -> Taken
    ) -> [Taken] {
        var taken: [Taken] = []
        while taken.count < max, acquired < maxInFlight, let offset = available.popLast() {
            guard let slot = index(of: offset) else { continue }
            touchedEnd = Swift.max(touchedEnd, slot + 1)
            dirty = true
            if slots[slot].deliveries >= maxDeliveries {
                slots[slot].state = .archived
                deadLetters.append((slots[slot], "max-deliveries"))
                totals.archived += 1
                continue
            }
            slots[slot].state = .acquired
            slots[slot].deliveries += 1
            slots[slot].token = nextToken
            slots[slot].expiry = now + lock
            nextToken += 1
            acquired += 1
            nextExpiry = Swift.min(nextExpiry, now + lock)
            taken.append(take(slots[slot]))
        }
        return taken
    }

    /// Up to `max` records the next ``acquire`` would hand out, lowest offsets first, without
    /// taking them (records at the delivery limit, which it would archive, are left out).
    func peek(max: Int) -> [Entry] {
        var entries: [Entry] = []
        for offset in available.reversed() where entries.count < max {
            guard let slot = index(of: offset), slots[slot].deliveries < maxDeliveries else { continue }
            entries.append(slots[slot])
        }
        return entries
    }

    /// Makes records whose lock ran out before `now` available again (archived at the delivery
    /// limit). Returns whether anything changed.
    @discardableResult
    mutating func expire(now: UInt64, deadLetters: inout [DeadLetter], fetcherPosition: Int64?) -> Bool {
        guard acquired > 0, nextExpiry <= now else { return false }
        var changed = false
        var next = UInt64.max
        for slot in head..<touchedEnd {
            var entry = slots[slot]
            guard entry.state == .acquired else { continue }
            guard entry.expiry <= now else {
                next = Swift.min(next, entry.expiry)
                continue
            }
            acquired -= 1
            changed = true
            dirty = true
            if entry.deliveries >= maxDeliveries {
                entry.state = .archived
                deadLetters.append((entry, "max-deliveries"))
                totals.archived += 1
            } else {
                entry.state = .available
                insertAvailable(order[slot])
            }
            slots[slot] = entry
        }
        nextExpiry = next
        if changed { advance(fetcherPosition: fetcherPosition) }
        return changed
    }

    // MARK: Settling

    /// Whether `offset` is acquired under `token` (a delivery still valid).
    func holds(_ offset: Int64, token: Int) -> Bool {
        guard let slot = index(of: offset) else { return false }
        return slots[slot].state == .acquired && slots[slot].token == token
    }

    /// Ends the delivery of `offset` (checked with ``holds(_:token:)`` first).
    mutating func settle(_ offset: Int64, as settlement: Settlement, deadLetters: inout [DeadLetter], fetcherPosition: Int64?) {
        guard let slot = index(of: offset) else { return }
        acquired -= 1
        switch settlement {
        case .ack:
            slots[slot].state = .acknowledged
            totals.acknowledged += 1
        case .reject:
            slots[slot].state = .archived
            totals.archived += 1
            deadLetters.append((slots[slot], "rejected"))
        case .release:
            if slots[slot].deliveries >= maxDeliveries {
                slots[slot].state = .archived
                totals.archived += 1
                deadLetters.append((slots[slot], "max-deliveries"))
            } else {
                slots[slot].state = .available
                insertAvailable(offset)
            }
        }
        dirty = true
        advance(fetcherPosition: fetcherPosition)
    }

    /// Counts records copied to the dead-letter topic.
    mutating func countDeadLettered(_ count: Int) {
        totals.deadLettered += Int64(count)
        dirty = true
    }

    private mutating func insertAvailable(_ offset: Int64) {
        // Descending order: find the first element smaller than `offset`.
        var low = 0
        var high = available.count
        while low < high {
            let middle = (low + high) / 2
            if available[middle] > offset { low = middle + 1 } else { high = middle }
        }
        available.insert(offset, at: low)
    }

    /// Moves the start past the records at the front of the window that are done; with none
    /// left, to where reading stands (`fetcherPosition`).
    mutating func advance(fetcherPosition: Int64?) {
        while head < order.count, slots[head].isDone { head += 1 }
        touchedEnd = Swift.max(touchedEnd, head)
        let newStart = head < order.count ? order[head] : (fetcherPosition ?? start)
        if newStart != start {
            start = newStart
            dirty = true
        }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            slots.removeFirst(head)
            touchedEnd -= head
            head = 0
        }
    }

    // MARK: Persisting

    /// The durable state: the start, runs of records done or delivered before, and the totals.
    func snapshot() -> QueueStateStore.Snapshot {
        var runs: [QueueStateStore.Run] = []
        for slot in head..<touchedEnd {
            // Fields read in place: copying an entry (a record with its references) costs more
            // than the rest of the walk.
            let entryState = slots[slot].state
            let deliveries = slots[slot].deliveries
            let offset = order[slot]
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
        // Records recovered but not read again keep their state.
        runs += recovered.filter { run in run.first > (order.last ?? Int64.min) }
        return QueueStateStore.Snapshot(
            start: start, runs: runs, acknowledged: totals.acknowledged,
            archived: totals.archived, deadLettered: totals.deadLettered)
    }

    mutating func markPersisted() { dirty = false }

    /// Available records delivered before (released, expired, or held when a crash came).
    var awaitingRedelivery: Int {
        available.filter { offset in index(of: offset).map { slots[$0].deliveries > 0 } ?? false }.count
    }
}
