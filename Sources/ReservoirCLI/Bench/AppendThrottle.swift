import Foundation

/// Holds appends to a rate, as a slower disk or machine would: after each append, waits until
/// the records appended so far fit the rate. At most `burstSeconds` of unused rate is saved up:
/// enough that a producer the scheduler held up for a moment catches up, not so much that an
/// idle second lets a later burst through at full speed.
final class AppendThrottle {
    let recordsPerSecond: Double
    private let burstSeconds = 0.05
    /// When the records appended so far are due at the rate (monotonic nanoseconds).
    private var due: UInt64 = 0
    /// Time spent waiting for the rate.
    private(set) var heldNanoseconds: UInt64 = 0

    init(_ recordsPerSecond: Double) {
        self.recordsPerSecond = recordsPerSecond
    }

    /// Counts `records` appended and waits for the rate to allow them.
    func appended(_ records: Int) {
        let now = monotonicNow()
        let earliest = now &- UInt64(burstSeconds * 1e9)
        if due < earliest { due = earliest }
        due &+= UInt64(Double(records) / recordsPerSecond * 1e9)
        if due > now {
            usleep(useconds_t((due - now) / 1000))
            heldNanoseconds &+= monotonicNow() &- now
        }
    }
}
