import Dispatch
import Reservoir
import ServiceLifecycle

/// A store as a swift-service-lifecycle `Service`: it keeps the store open while the service
/// group runs and closes it (flushed, checkpointed, marked clean) on graceful shutdown, after the
/// services listed after it in the group (those that use the store) have stopped.
///
/// ```swift
/// let store = try Reservoir.open(at: "/var/lib/shop/events")
/// let group = ServiceGroup(
///     services: [ReservoirService(store: store), api],   // `api` stops first, then the store closes
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// The store's own background work (maintenance, flushes, follow-ups of a read-only store) runs
/// on its own threads from the moment it opens; the service owns its lifetime.
public struct ReservoirService: Service {
    /// The store this service closes.
    public let store: Reservoir

    public init(store: Reservoir) {
        self.store = store
    }

    /// Waits for graceful shutdown (or cancellation), then closes the store.
    ///
    /// - Throws: the error of ``Reservoir/close()`` (the store could not checkpoint: the next
    ///   open recovers it).
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch is CancellationError {
            // A cancelled service group ends the service the same way: the store closes.
        }
        try await Self.close(store)
    }

    /// Closes `store` on a thread of its own: closing flushes and fsyncs, which must not block a
    /// thread of Swift concurrency's pool.
    static func close(_ store: Reservoir) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try store.close()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
