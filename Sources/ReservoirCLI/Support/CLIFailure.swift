import ArgumentParser
import Foundation
import Logging
import Reservoir

/// A failure the CLI reports in one line.
struct CLIFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
