import Foundation

/// Why end-to-end latency came out as it did with and without the buffer: who waited, and where.
///
/// End-to-end latency runs from the moment the schedule wanted a record (its event upstream) to
/// its consumption. It splits into the wait before the append completed (the producer behind
/// its schedule, plus the append) and the wait after it (in the backlog, until a consumer
/// reached the record). The same consumers drain the same backlog in both runs, so the buffer
/// moves the wait rather than removing it; what differs is where the backlog lives and how
/// fast each run's consumers drained it.
enum LatencyExplanation {
    static func sentences(scenario: PeakScenario, runs: [PeakRun.Result]) -> [String] {
        var out: [String] = []
        let buffered = runs.first { $0.kind == .buffered }
        let baseline = runs.first { $0.kind == .baseline }
        if let run = buffered {
            out.append(
                "With Reservoir, records waited \(ms(run.upstreamWait.p50)) (p50) and \(ms(run.upstreamWait.p99)) (p99) before their append completed: "
                    + "the producer kept its schedule (at most \(grouped(run.maxBehind)) records behind). "
                    + "The rest of their end-to-end latency (p50 \(ms(run.endToEnd.p50)), p99 \(ms(run.endToEnd.p99))) was spent in the backlog on disk, "
                    + "\(grouped(run.maxBacklog)) records at its peak, until a consumer reached them.")
        }
        if let run = baseline {
            out.append(
                "Without a buffer, the producer could hand records over only as fast as the consumers took them: records waited "
                    + "\(ms(run.upstreamWait.p50)) (p50) and \(ms(run.upstreamWait.p99)) (p99) upstream, before the hand-off, with the producer up to "
                    + "\(grouped(run.maxBehind)) records behind its schedule. That wait is the backlog, held by the producer (in a real service: in its "
                    + "callers, its memory, or lost). End-to-end p50 \(ms(run.endToEnd.p50)), p99 \(ms(run.endToEnd.p99)).")
        }
        guard let with = buffered, let without = baseline else { return out }
        let withRate = with.busyDrainRate(scenario)
        let withoutRate = without.busyDrainRate(scenario)
        let difference = with.endToEnd.p50 - without.endToEnd.p50
        var comparison =
            "Both runs' consumers drain the same backlog, so end-to-end latency is of the same order: the buffer moves the wait from the producer to the disk, "
            + "and does not make the consumers faster. "
        if abs(difference) <= 0.1 * Swift.max(with.endToEnd.p50, without.endToEnd.p50) {
            comparison += "Here the p50s are within 10% of each other."
        } else {
            let higher = difference > 0 ? "Reservoir's" : "the hand-off's"
            comparison += "Here \(higher) p50 is higher by \(ms(abs(difference)))"
            if withRate > 0 && withoutRate > 0 {
                comparison +=
                    ": Reservoir's consumers drained at \(grouped(withRate))/s while busy, the hand-off's at \(grouped(withoutRate))/s"
            } else if difference > 0 {
                comparison +=
                    ": with no backlog to speak of, what shows is each path's own delay, a consumer woken by an append against a hand-off between threads"
            }
            if let skew = partitionSkew(with), skew > 1.1, difference > 0 {
                comparison +=
                    "; each Reservoir consumer reads whole partitions, and the busiest partition held \(String(format: "%.0f%%", (skew - 1) * 100)) more records than the mean, "
                    + "so its consumer finished last, while the hand-off spreads every record over all consumers"
            }
            comparison += "."
        }
        out.append(comparison)
        return out
    }

    /// The busiest partition's records over the mean partition's.
    private static func partitionSkew(_ run: PeakRun.Result) -> Double? {
        guard run.partitionEnds.count > 1, let largest = run.partitionEnds.max() else { return nil }
        let mean = Double(run.partitionEnds.reduce(0, +)) / Double(run.partitionEnds.count)
        return mean > 0 ? Double(largest) / mean : nil
    }

    private static func ms(_ value: Double) -> String {
        value >= 1000 ? "\(grouped(value / 1000, decimals: 2)) s" : "\(grouped(value, decimals: 1)) ms"
    }
}
