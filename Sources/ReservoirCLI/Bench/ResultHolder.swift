import ArgumentParser
import Foundation
import Reservoir
import Synchronization

/// A figure handed from a task to the waiting command.
final class ResultHolder: Sendable {
    let seconds = Mutex<Double>(0)
}
