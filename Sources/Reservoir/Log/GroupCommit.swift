import Dispatch
import Synchronization

/// Shares fsyncs between concurrent durable appends to one log (group commit).
///
/// One flush round at a time: the round notes the log's end, fsyncs, then releases every waiter
/// whose records lie below that end. Appends that arrive during a round wait for the next one,
/// which covers all of them with a single fsync. A waiting thread leads the round itself (no
/// hand-off); waiting tasks have the round run on the store's I/O thread, never on the
/// cooperative pool.
final class GroupCommit: Sendable {
    private enum Waiter {
        case thread(DispatchSemaphore)
        case callback(@Sendable (ReservoirError?) -> Void, target: Int64)
    }

    private struct State {
        var flushed: Int64
        var inProgress = false
        var waiters: [Waiter] = []
        var failure: ReservoirError?
    }

    private let state: Mutex<State>
    private let ioThread: IOThread
    /// Performs one flush: returns the offset now durable.
    private let flush: @Sendable () throws(ReservoirError) -> Int64

    /// Told (outside the lock) when the durable offset may have moved.
    private let onAdvance: @Sendable () -> Void
    /// Told the new durable offset before any waiter can see it (so that what it publishes is
    /// never behind an acknowledgement).
    private let onDurable: @Sendable (Int64) -> Void

    init(
        flushed: Int64, ioThread: IOThread, onDurable: @escaping @Sendable (Int64) -> Void = { _ in },
        onAdvance: @escaping @Sendable () -> Void = {},
        flush: @escaping @Sendable () throws(ReservoirError) -> Int64
    ) {
        state = Mutex(State(flushed: flushed))
        self.ioThread = ioThread
        self.onDurable = onDurable
        self.onAdvance = onAdvance
        self.flush = flush
    }

    /// Offsets below this are durable.
    var flushedOffset: Int64 { state.withLock { $0.flushed } }

    /// Blocks the calling thread until offsets below `target` are durable.
    func waitUntilDurable(_ target: Int64) throws(ReservoirError) {
        enum Step {
            case done, lead
            case wait(DispatchSemaphore)
            case fail(ReservoirError)
        }
        while true {
            let step = state.withLock { state -> Step in
                if let failure = state.failure { return .fail(failure) }
                if state.flushed >= target { return .done }
                if !state.inProgress {
                    state.inProgress = true
                    return .lead
                }
                let semaphore = DispatchSemaphore(value: 0)
                state.waiters.append(.thread(semaphore))
                return .wait(semaphore)
            }
            switch step {
            case .done: return
            case .fail(let error): throw error
            case .lead: runRound()
            case .wait(let semaphore): semaphore.wait()
            }
        }
    }

    /// Suspends the task until offsets below `target` are durable.
    func durable(_ target: Int64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            whenDurable(target) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }

    /// Calls `done` (on the I/O thread, or at once) when offsets below `target` are durable.
    func whenDurable(_ target: Int64, _ done: @escaping @Sendable (ReservoirError?) -> Void) {
        enum Step {
            case now(ReservoirError?)
            case startRound, wait
        }
        let step = state.withLock { state -> Step in
            if let failure = state.failure { return .now(failure) }
            if state.flushed >= target { return .now(nil) }
            state.waiters.append(.callback(done, target: target))
            if state.inProgress { return .wait }
            state.inProgress = true
            return .startRound
        }
        switch step {
        case .now(let error): done(error)
        case .startRound: ioThread.submit { [self] in runRound() }
        case .wait: break
        }
    }

    /// Records that offsets below `offset` were made durable by other means (a rolled segment's
    /// fsync), releasing waiters through the next round.
    func markDurable(upTo offset: Int64) {
        onDurable(offset)
        state.withLock { $0.flushed = max($0.flushed, offset) }
        onAdvance()
    }

    /// Requests a flush without waiting for it (flush policies).
    func flushInBackground() {
        let start = state.withLock { state -> Bool in
            if state.inProgress || state.failure != nil { return false }
            state.inProgress = true
            return true
        }
        if start { ioThread.submit { [self] in runRound() } }
    }

    /// One round: flush, publish, release the satisfied waiters, and start the next round on the
    /// I/O thread if tasks still wait (threads still waiting re-check and lead themselves).
    private func runRound() {
        var result: Result<Int64, ReservoirError>
        do throws(ReservoirError) { result = .success(try flush()) } catch { result = .failure(error) }
        if case .success(let offset) = result { onDurable(offset) }
        var callbacks: [(@Sendable (ReservoirError?) -> Void, ReservoirError?)] = []
        var threads: [DispatchSemaphore] = []
        let again = state.withLock { state -> Bool in
            switch result {
            case .success(let offset): state.flushed = max(state.flushed, offset)
            case .failure(let error): state.failure = state.failure ?? error
            }
            state.inProgress = false
            var remaining: [Waiter] = []
            for waiter in state.waiters {
                switch waiter {
                case .thread(let semaphore): threads.append(semaphore)
                case .callback(let done, let target):
                    if let failure = state.failure {
                        callbacks.append((done, failure))
                    } else if state.flushed >= target {
                        callbacks.append((done, nil))
                    } else {
                        remaining.append(waiter)
                    }
                }
            }
            state.waiters = remaining
            if !remaining.isEmpty {
                state.inProgress = true
                return true
            }
            return false
        }
        for semaphore in threads { semaphore.signal() }
        for (done, error) in callbacks { done(error) }
        if case .success = result { onAdvance() }
        if again { ioThread.submit { [self] in runRound() } }
    }
}
