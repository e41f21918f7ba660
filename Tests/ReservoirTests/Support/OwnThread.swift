import Foundation
import Synchronization

/// Runs `body`, which blocks for seconds (waiting on child processes, pipes, sockets), on a
/// thread of its own, still as part of the calling test's task, so its expectations are the
/// test's.
///
/// Swift concurrency's cooperative pool has one thread per core: tests that block in it for long
/// starve the tests of this process that await (consumers, queues, readers, the Kafka server).
func onOwnThread<T>(_ body: () throws -> T) async throws -> T {
    let executor = ThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) {
        // The closure starts where the caller runs; a suspension resumes it on the executor.
        await Task.yield()
        precondition(executor.isCurrent, "the blocking work did not move to its own thread")
        return try body()
    }
}

/// A task executor that runs its jobs, in order, on one thread it starts.
private final class ThreadExecutor: TaskExecutor {
    // nil stops the thread.
    private let jobs = Mutex<[UnownedJob?]>([])
    private let available = DispatchSemaphore(value: 0)
    private let thread = Mutex<pthread_t?>(nil)

    init() {
        Thread { [self] in run() }.start()
    }

    /// Whether the caller runs on this executor's thread.
    var isCurrent: Bool { thread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        available.signal()
    }

    /// Ends the thread once the jobs before are run.
    func stop() {
        jobs.withLock { $0.append(nil) }
        available.signal()
    }

    private func run() {
        thread.withLock { $0 = pthread_self() }
        while true {
            available.wait()
            guard let job = jobs.withLock({ $0.removeFirst() }) else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
