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

    /// Opens the store; SIGINT and SIGTERM close it cleanly until ``Reservoir/closeOrExit()``.
    func open() throws -> Reservoir {
        let store = try Reservoir.open(at: path, options: Reservoir.Options(logger: quietLogger()))
        OpenStores.add(store)
        return store
    }
}
