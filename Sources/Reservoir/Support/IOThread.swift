#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import CReservoirSystem
import Synchronization

/// A dedicated OS thread that runs blocking I/O jobs (fsync, checkpoint writes) in order, off
/// Swift concurrency's cooperative pool, plus jobs due at a later time (linger and flush timers).
final class IOThread: Sendable {
    typealias Job = @Sendable () -> Void

    private struct State {
        var jobs: [Job] = []
        var timed: [(due: UInt64, job: Job)] = []
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    let name: String
    private let niceness: Int32

    /// - Parameter niceness: added to the thread's scheduling nice value (Linux schedules threads
    ///   separately), so that background work yields the CPU to appenders when cores are short.
    init(name: String, niceness: Int32 = 0) {
        self.name = name
        self.niceness = niceness
        startDetachedThread(name: name) { [self] in
            #if os(Linux)
            if niceness != 0 {
                // On Linux, "process" 0 here means the calling thread only.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            }
            #endif
            run()
        }
    }

    /// Runs `job` on the thread, after the jobs already queued.
    func submit(_ job: @escaping Job) {
        let accepted = state.withLock { state -> Bool in
            if state.stopping { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { wake.signal() } else { job() }
    }

    /// Runs `job` on the thread once `delay` nanoseconds have passed.
    func schedule(afterNanoseconds delay: UInt64, _ job: @escaping Job) {
        let due = monotonicNanoseconds() &+ delay
        let accepted = state.withLock { state -> Bool in
            if state.stopping { return false }
            state.timed.append((due, job))
            return true
        }
        if accepted { wake.signal() }
    }

    /// Runs the queued jobs, drops timed jobs not yet due, and ends the thread; waits for it.
    /// Later calls return at once.
    func stop() {
        let first = state.withLock { state -> Bool in
            if state.stopping { return false }
            state.stopping = true
            return true
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    private func run() {
        while true {
            let (jobs, stop, nextDue) = state.withLock { state -> ([Job], Bool, UInt64?) in
                var ready = state.jobs
                state.jobs.removeAll(keepingCapacity: true)
                let now = monotonicNanoseconds()
                var later: [(due: UInt64, job: Job)] = []
                for entry in state.timed {
                    if entry.due <= now { ready.append(entry.job) } else { later.append(entry) }
                }
                state.timed = later
                return (ready, state.stopping, later.map(\.due).min())
            }
            for job in jobs { job() }
            if stop && jobs.isEmpty {
                // Timed jobs not yet due are dropped, and released now: they may hold what owns
                // this thread (a log's flush timer holds the log), which would otherwise never be freed.
                state.withLock { $0.timed.removeAll() }
                finished.signal()
                return
            }
            if !jobs.isEmpty { continue }
            if let nextDue {
                let now = monotonicNanoseconds()
                if nextDue > now { _ = wake.wait(timeout: .now() + .nanoseconds(Int(min(nextDue - now, 1_000_000_000)))) }
            } else {
                wake.wait()
            }
        }
    }
}

/// Starts a detached OS thread running `body`, which keeps what it captures (the thread's owner)
/// alive until it returns. `name` (at most 15 bytes are kept) is what `ps -L` and `top -H` show.
func startDetachedThread(name: String? = nil, _ body: @escaping @Sendable () -> Void) {
    let named: @Sendable () -> Void = {
        if let name { reservoir_set_thread_name(name) }
        body()
    }
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let box = Unmanaged.passRetained(Body(named))
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { context in
            // Safe: `context` is the retained `Body` passed below, taken back exactly once here.
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
