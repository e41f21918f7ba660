import Dispatch
import Foundation
import Reservoir
import Synchronization

/// The stores a command has open, so that SIGINT and SIGTERM close them cleanly (flushed,
/// checkpointed, clean-shutdown marker written) before the process exits, and a closed output
/// pipe (SIGPIPE) ends the command quietly the same way, as `head` expects of the commands
/// it reads from.
enum OpenStores {
    private static let stores = Mutex<[ObjectIdentifier: Reservoir]>([:])
    private static let stopping = Atomic<Bool>(false)
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    /// Work to do before the stores close on a signal (a server stops taking requests first).
    private static let beforeClosing = Mutex<[@Sendable () -> Void]>([])

    /// Runs `hook` when a signal closes the stores, before they close.
    static func whenStopping(_ hook: @escaping @Sendable () -> Void) { beforeClosing.withLock { $0.append(hook) } }

    static func add(_ store: Reservoir) { stores.withLock { $0[ObjectIdentifier(store)] = store } }
    static func remove(_ store: Reservoir) { _ = stores.withLock { $0.removeValue(forKey: ObjectIdentifier(store)) } }

    /// Installs the handlers (once, at start). A second signal while closing exits at once:
    /// recovery covers that, as after any crash.
    static func installSignalHandlers() {
        // Writes to a closed pipe fail with EPIPE instead of killing the process (see Output).
        signal(SIGPIPE, SIG_IGN)
        for (number, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stopping.exchange(true, ordering: .relaxed) { _exit(status) }
                closeAllAndExit(status)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// A signal handler is closing the stores and will exit: the calling thread waits for it
    /// instead of finishing the command (its store may be half closed).
    static func parkIfStopping() {
        guard stopping.load(ordering: .relaxed) else { return }
        while true { pause() }
    }

    /// Closes every open store (reporting a failure in one line) and exits with `status`.
    static func closeAllAndExit(_ status: Int32) -> Never {
        for hook in beforeClosing.withLock({ $0 }) { hook() }
        let open = stores.withLock { stores in
            defer { stores.removeAll() }
            return Array(stores.values)
        }
        var code = status
        for store in open {
            do { try store.close() } catch {
                FileHandle.standardError.write(Data("reservoir: closing the store failed: \(error.message)\n".utf8))
                code = 1
            }
        }
        exit(code)
    }
}
