import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A task executor that runs its jobs, in order, on one thread of its own: for async work that
/// makes blocking calls (a blocking socket, a child process), which must not hold one of Swift
/// concurrency's cooperative threads.
final class BlockingThreadExecutor: TaskExecutor {
    // nil stops the thread.
    private let jobs = Mutex<[UnownedJob?]>([])
    private let available = DispatchSemaphore(value: 0)
    private let thread = Mutex<pthread_t?>(nil)

    init() {
        let started = DispatchSemaphore(value: 0)
        // The thread holds the executor until `stop` ends its loop.
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        let context = Unmanaged.passRetained(Box(executor: self, started: started)).toOpaque()
        var handle = pthread_t()
        let created = pthread_create(
            &handle, &attributes,
            { context in
                guard let context else { return nil }
                let box = Unmanaged<Box>.fromOpaque(context).takeRetainedValue()
                box.executor.run(started: box.started)
                return nil
            }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        pthread_detach(handle)
        started.wait()
    }

    private final class Box {
        let executor: BlockingThreadExecutor
        let started: DispatchSemaphore
        init(executor: BlockingThreadExecutor, started: DispatchSemaphore) {
            self.executor = executor
            self.started = started
        }
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

    private func run(started: DispatchSemaphore) {
        thread.withLock { $0 = pthread_self() }
        started.signal()
        while true {
            available.wait()
            guard let job = jobs.withLock({ $0.removeFirst() }) else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Runs `body` on a new thread of its own, as part of the calling task.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        let executor = BlockingThreadExecutor()
        defer { executor.stop() }
        return try await withTaskExecutorPreference(executor) {
            // The closure starts where the caller runs; a suspension resumes it on the executor.
            await Task.yield()
            assert(executor.isCurrent, "the blocking work did not move to its own thread")
            return try await body()
        }
    }
}
