import Dispatch
import Synchronization

/// The acknowledgement of one batch given to ``BatchProducer/send(_:partition:)``.
public final class PendingAppend: Sendable {
    /// The partition the batch goes to.
    public let partition: Int
    private let done = DispatchGroup()
    private let outcome = Mutex<Result<ClosedRange<Int64>, ReservoirError>?>(nil)

    init(partition: Int) {
        self.partition = partition
        done.enter()
    }

    func complete(_ result: Result<ClosedRange<Int64>, ReservoirError>) {
        outcome.withLock { $0 = result }
        done.leave()
    }

    /// Whether the batch is acknowledged or failed.
    public var isComplete: Bool { outcome.withLock { $0 != nil } }

    /// Blocks until the batch is acknowledged; returns the offsets its records got.
    public func wait() throws(ReservoirError) -> Reservoir.AppendedRange {
        done.wait()
        return try range()
    }

    /// As ``wait()``, suspending instead of blocking.
    public func value() async throws -> Reservoir.AppendedRange {
        await withCheckedContinuation { continuation in
            done.notify(queue: .global()) { continuation.resume() }
        }
        return try range()
    }

    private func range() throws(ReservoirError) -> Reservoir.AppendedRange {
        // Complete once `done` is left, which happens only after `outcome` is set.
        switch outcome.withLock({ $0 }) {
        case .success(let offsets): return Reservoir.AppendedRange(partition: partition, offsets: offsets)
        case .failure(let error): throw error
        case nil: throw ReservoirError(.invalidArgument, "the batch is not acknowledged yet")
        }
    }
}
