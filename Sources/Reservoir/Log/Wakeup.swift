import Synchronization

/// A wake-up flag for one waiting task: ``signal()`` from any thread; ``wait()`` suspends until
/// a signal arrives (or returns at once when one arrived since the last wait).
///
/// Readers register one with the logs they follow; appends signal it. No polling, no timers: a
/// reader waiting at the end of a log resumes as soon as the append that wakes it is published.
/// Cancelling the waiting task also resumes it.
final class Wakeup: Sendable {
    private enum State {
        case idle
        case signalled
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let state = Mutex(State.idle)

    init() {}

    /// Wakes the waiter, or makes the next ``wait()`` return at once.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch state {
            case .waiting(let continuation):
                state = .idle
                return continuation
            case .idle:
                state = .signalled
                return nil
            case .signalled:
                return nil
            }
        }
        waiter?.resume()
    }

    /// Suspends until signalled (or the task is cancelled). One waiter at a time.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if case .signalled = state {
                        state = .idle
                        return true
                    }
                    state = .waiting(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
