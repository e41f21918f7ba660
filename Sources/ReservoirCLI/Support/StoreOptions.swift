import ArgumentParser
import Foundation
import Logging
import Reservoir

/// The `--dir` option every store command takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Store directory (default: $RESERVOIR_DIR, else ./reservoir-data).")
    var dir: String?

    var path: String {
        dir ?? ProcessInfo.processInfo.environment["RESERVOIR_DIR"] ?? "./reservoir-data"
    }

    /// Opens the store to change it (created when missing); SIGINT and SIGTERM close it cleanly
    /// until ``Reservoir/closeOrExit()``.
    func open() throws -> Reservoir {
        let store = try Reservoir.open(at: path, options: Reservoir.Options(logger: quietLogger()))
        OpenStores.add(store)
        return store
    }

    /// Opens the store read-only, for the commands that only read: they work beside a process
    /// that writes the store (a service, `reservoir serve`, another `reservoir` command), and
    /// never create a store.
    func openForReading(visibility: ReadIsolation = .durable) throws -> Reservoir {
        let store = try Reservoir.openReadOnly(at: path, visibility: visibility, options: Reservoir.Options(logger: quietLogger()))
        OpenStores.add(store)
        return store
    }
}
