import Histogram
import Synchronization

/// An HdrHistogram several threads record into (nanoseconds), read out as percentiles.
final class LatencyRecorder: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three))

    func record(nanoseconds: UInt64) {
        histogram.withLock { _ = $0.record(max(1, nanoseconds)) }
    }

    /// Adds the values another histogram recorded.
    func merge(_ other: Histogram<UInt64>) {
        histogram.withLock { $0.add(other) }
    }

    /// p50, p90, p99, p99.9 and max, in milliseconds.
    var percentiles: Percentiles {
        histogram.withLock { histogram in
            guard histogram.totalCount > 0 else { return Percentiles() }
            func ms(_ value: UInt64) -> Double { Double(value) / 1e6 }
            return Percentiles(
                p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                p99: ms(histogram.valueAtPercentile(99)), p999: ms(histogram.valueAtPercentile(99.9)),
                max: ms(histogram.max), count: Int(histogram.totalCount))
        }
    }
}
