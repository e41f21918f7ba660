import Dispatch
import Synchronization

/// The baseline's hand-off: a bounded in-memory queue between producer and consumers, with no
/// buffer beyond it. A full queue blocks the producer, as a direct call into slow consumers would.
final class HandOff: Sendable {
    struct Item: Sendable {
        var sequence: Int
        var key: Int
        var appendedAt: UInt64
    }

    private let items = Mutex<[Item]>([])
    private let slots: DispatchSemaphore
    private let filled = DispatchSemaphore(value: 0)
    private let closed = Atomic<Bool>(false)

    init(capacity: Int) {
        slots = DispatchSemaphore(value: capacity)
    }

    /// Blocks until there is room.
    func put(_ item: Item) {
        slots.wait()
        items.withLock { $0.append(item) }
        filled.signal()
    }

    /// Takes up to `max` items, waiting for the first; empty once closed and drained.
    func take(max: Int) -> [Item] {
        while true {
            if filled.wait(timeout: .now() + .milliseconds(50)) == .success { break }
            if closed.load(ordering: .relaxed) && items.withLock({ $0.isEmpty }) { return [] }
        }
        // Each signal stands for an item already appended: take one item per signal consumed.
        var count = 1
        while count < max, filled.wait(timeout: .now()) == .success { count += 1 }
        let taken = items.withLock { items -> [Item] in
            let prefix = Array(items.prefix(count))
            items.removeFirst(count)
            return prefix
        }
        for _ in taken { slots.signal() }
        return taken
    }

    var count: Int { items.withLock { $0.count } }

    func close() {
        closed.store(true, ordering: .relaxed)
    }
}
