#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// A dedicated thread that runs jobs in order for a pipeline of at most `capacity` jobs in
/// flight, built for hand-offs many thousands of times a second.
///
/// Both sides spin briefly (yielding the core each turn) before they sleep: the thread when it
/// runs out of jobs, a submitter when `capacity` jobs are already in flight. Sleeping on every
/// hand-off costs a wake-up per job, and Linux tends to wake a sleeper on the waker's core, so a
/// producer and its writer can end up sharing one core instead of running side by side.
final class PipelineThread: Sendable {
    typealias Job = @Sendable () -> Void

    let capacity: Int
    private let jobs = Mutex<[Job]>([])
    /// Jobs submitted and not yet finished (queued or running).
    private let inFlight = Atomic<Int>(0)
    private let threadSleeping = Atomic<Bool>(false)
    private let waitingSubmitters = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let slotFreed = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// How long a side spins (calling `sched_yield` each turn) before it sleeps: enough to bridge a
    /// batch's hand-off, short enough that a thread sharing a core with the other side gives it
    /// up quickly. Measured on 2 cores (pipelined 1000-record appends against raw `write()`):
    /// sleeping at once 67–81%; 200 turns sometimes 24%, when the two threads came to share one
    /// core and the spinning side kept taking it from the other; 10 µs 72–85% in 28 of 31 runs,
    /// 65% once, and 22–25% in two runs in a row (see Docs/BENCHMARKS.md).
    private static let spinNanoseconds: UInt64 = 10_000

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        startDetachedThread(name: "reservoir-producer") { [self] in run() }
    }

    /// Runs `job` on the thread after the jobs before it; waits first while `capacity` jobs are
    /// in flight. After ``stop()``, runs `job` on the caller's thread.
    func submit(_ job: @escaping Job) {
        acquireSlot()
        // Checked under the queue's lock, as the thread's last look before it ends: a job is
        // either queued before that look or sees `stopping`.
        let queued = jobs.withLock { jobs -> Bool in
            if stopping.load(ordering: .sequentiallyConsistent) { return false }
            jobs.append(job)
            return true
        }
        guard queued else {
            job()
            release()
            return
        }
        // Sequentially consistent, as the thread's check before it sleeps: one of the two sees the other.
        if threadSleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.signal() }
    }

    private func acquireSlot() {
        var spinStart: UInt64 = 0
        while true {
            let current = inFlight.load(ordering: .relaxed)
            if current < capacity {
                if inFlight.compareExchange(expected: current, desired: current + 1, ordering: .sequentiallyConsistent).exchanged { return }
                continue
            }
            if spinStart == 0 { spinStart = monotonicNanoseconds() }
            if monotonicNanoseconds() &- spinStart < Self.spinNanoseconds {
                sched_yield()
                continue
            }
            waitingSubmitters.add(1, ordering: .sequentiallyConsistent)
            if inFlight.load(ordering: .sequentiallyConsistent) >= capacity { slotFreed.wait() }
            waitingSubmitters.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func release() {
        inFlight.subtract(1, ordering: .sequentiallyConsistent)
        if waitingSubmitters.load(ordering: .sequentiallyConsistent) > 0 { slotFreed.signal() }
    }

    /// Finishes the jobs submitted so far, then ends the thread; waits for it. Later calls return at once.
    func stop() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        wake.signal()
        // Called from one of the thread's own jobs (a job can hold the last reference to the
        // thread's owner, whose deinit stops it), waiting would never end: the thread ends by
        // itself after the job.
        if pthread_equal(pthread_self(), pthread_t(UInt(bitPattern: threadID.load(ordering: .acquiring)))) != 0 { return }
        finished.wait()
    }

    /// The thread's `pthread_t`, once it runs.
    private let threadID = Atomic<Int>(0)

    private func run() {
        threadID.store(Int(bitPattern: UInt(pthread_self())), ordering: .releasing)
        var spinStart: UInt64 = 0
        while true {
            let (next, ended) = jobs.withLock { jobs -> (Job?, Bool) in
                if !jobs.isEmpty { return (jobs.removeFirst(), false) }
                return (nil, stopping.load(ordering: .sequentiallyConsistent))
            }
            if let next {
                next()
                release()
                spinStart = 0
                continue
            }
            if ended {
                finished.signal()
                return
            }
            if spinStart == 0 { spinStart = monotonicNanoseconds() }
            if monotonicNanoseconds() &- spinStart < Self.spinNanoseconds {
                sched_yield()
                continue
            }
            threadSleeping.store(true, ordering: .sequentiallyConsistent)
            if jobs.withLock({ $0.isEmpty }) && !stopping.load(ordering: .sequentiallyConsistent) {
                wake.wait()
            }
            threadSleeping.store(false, ordering: .sequentiallyConsistent)
            spinStart = 0
        }
    }
}
