import Foundation

/// The peak-traffic scenario: a base rate, a burst at a multiple of it, the base rate again,
/// and consumers whose capacity lies between the two.
struct PeakScenario: Sendable, Codable {
    enum Shape: String, Sendable, Codable, CaseIterable {
        /// The rate jumps to the burst rate and back.
        case step
        /// The rate rises linearly to the burst rate at the middle of the burst and falls back.
        case spike
        /// Half a sine wave from the base rate up to the burst rate and back.
        case sine
    }

    enum Model: String, Sendable, Codable, CaseIterable {
        /// A consumer group: each consumer reads its partitions, committing offsets.
        case group
        /// A work queue: consumers take records and acknowledge them in batches.
        case queue
    }

    var baseRate: Double = 10_000
    var burstMultiple: Double = 10
    var shape: Shape = .step
    var warmupSeconds: Double = 3
    var burstSeconds: Double = 6
    /// Base rate after the burst, before producing stops (consumers then drain).
    var cooldownSeconds: Double = 6
    var recordBytes: Int = 200
    var keys: Int = 10_000
    var partitions: Int = 4
    var durable: Bool = false
    var compression: String = "none"
    var consumers: Int = 2
    /// Simulated work per record, in microseconds (a sleep per batch, so that it costs no CPU).
    var costMicroseconds: Double = 66
    var model: Model = .group
    var groups: Int = 1
    /// Records one consumer processes between two sleeps.
    var consumerBatch: Int = 200
    /// Give up draining after this long past the end of production.
    var drainLimitSeconds: Double = 60

    /// A rate profile of the user's own, replacing the base rate, burst and shape.
    var profile: RateProfile?

    /// The highest rate the schedule asks for.
    var burstRate: Double { profile.map { $0.steps.map(\.rate).max() ?? 0 } ?? baseRate * burstMultiple }
    var productionSeconds: Double { profile?.end ?? warmupSeconds + burstSeconds + cooldownSeconds }
    /// Seconds of the schedule whose rate is above `rate` (the burst, for a given consumer capacity).
    func secondsAbove(_ rate: Double) -> Double {
        stride(from: 0.0005, to: productionSeconds, by: 0.001).reduce(0) { $0 + (self.rate(at: $1) > rate ? 0.001 : 0) }
    }
    /// Records per second all consumers of one group can process.
    var capacity: Double { Double(consumers) * 1_000_000 / costMicroseconds }

    /// The target rate at `t` seconds after the start.
    func rate(at t: Double) -> Double {
        guard t >= 0, t < productionSeconds else { return 0 }
        if let profile { return profile.rate(at: t) }
        let burstStart = warmupSeconds
        let burstEnd = warmupSeconds + burstSeconds
        guard t >= burstStart, t < burstEnd else { return baseRate }
        let phase = (t - burstStart) / burstSeconds
        switch shape {
        case .step: return burstRate
        case .spike: return baseRate + (burstRate - baseRate) * (1 - abs(2 * phase - 1))
        case .sine: return baseRate + (burstRate - baseRate) * sin(Double.pi * phase)
        }
    }

    /// Records due by `t`: the integral of the rate, in 1 ms steps (cached by the caller).
    static func cumulative(_ scenario: PeakScenario) -> [Double] {
        let steps = Int(scenario.productionSeconds * 1000) + 1
        var total = 0.0
        var table = [Double](repeating: 0, count: steps + 1)
        for step in 0..<steps {
            total += scenario.rate(at: Double(step) / 1000) / 1000
            table[step + 1] = total
        }
        return table
    }

    var summary: String {
        if profile != nil {
            return "rate profile (\(Int(productionSeconds)) s, up to \(grouped(burstRate))/s), \(recordBytes)-byte records, "
                + "\(partitions) partitions, \(consumers) consumer\(consumers == 1 ? "" : "s") × \(groups) \(model.rawValue)\(groups == 1 ? "" : "s") "
                + "at \(costMicroseconds) µs/record (capacity \(grouped(capacity))/s)"
        }
        return "base \(grouped(baseRate))/s, burst ×\(burstMultiple) (\(shape.rawValue), \(burstSeconds) s), \(recordBytes)-byte records, "
            + "\(partitions) partitions, \(consumers) consumer\(consumers == 1 ? "" : "s") × \(groups) \(model.rawValue)\(groups == 1 ? "" : "s") "
            + "at \(costMicroseconds) µs/record (capacity \(grouped(capacity))/s)"
    }
}
