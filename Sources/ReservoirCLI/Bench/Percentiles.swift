import Histogram
import Synchronization

/// Latency percentiles in milliseconds.
struct Percentiles: Codable, Sendable {
    var p50 = 0.0
    var p90 = 0.0
    var p99 = 0.0
    var p999 = 0.0
    var max = 0.0
    var count = 0
}
