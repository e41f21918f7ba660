import Dispatch
import Foundation
import Reservoir
import Synchronization

/// A counter shared by threads.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}
