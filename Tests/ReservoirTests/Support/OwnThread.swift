import Foundation
@testable import ReservoirKafka

/// Runs `body`, which blocks for seconds (waiting on child processes, pipes, sockets), on a
/// thread of its own, still as part of the calling test's task, so its expectations are the
/// test's.
///
/// Swift concurrency's cooperative pool has one thread per core: tests that block in it for long
/// starve the tests of this process that await (consumers, queues, readers, the Kafka server).
func onOwnThread<T>(_ body: () throws -> T) async throws -> T {
    try await BlockingThreadExecutor.run { try body() }
}
