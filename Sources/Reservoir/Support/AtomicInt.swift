import Synchronization

/// An `Int` published by one writer and read by many: stores release, loads acquire.
final class AtomicInt: Sendable {
    private let value: Atomic<Int>

    init(_ initial: Int) { value = Atomic(initial) }

    func load() -> Int { value.load(ordering: .acquiring) }
    func store(_ newValue: Int) { value.store(newValue, ordering: .releasing) }
}
