import Foundation

/// What a burst cost in the buffered run, from measured figures, and what bursts a disk budget
/// and a drain objective allow.
///
/// - The burst is the part of the schedule whose rate exceeds the consumers' measured capacity.
/// - The consumers' capacity is the slowest group's mean consumption rate while a backlog kept
///   them busy; the net drain rate is the peak backlog over the time it took to clear after the
///   burst (capacity minus the rate still arriving).
/// - A burst of rate r for d seconds then leaves a backlog of (r − capacity) × d records, which
///   needs that many records' bytes on disk and drains in backlog ÷ net drain rate seconds; it
///   is feasible when both fit and r is within the write capacity.
struct BurstCost: Codable, Sendable {
    /// Disk bytes per record: the topic's files over the records appended (compression and batch
    /// overhead included).
    var diskBytesPerRecord: Double
    /// Records/s the consumers processed while busy (slowest group); the simulated cost's
    /// figure when they never were (`consumerCapacityMeasured` false).
    var consumerCapacity: Double
    var consumerCapacityMeasured: Bool
    /// When the schedule first and last exceeded the consumers' capacity (seconds since the start).
    var burstStart: Double?
    var burstEnd: Double?
    /// Mean records/s appended during the burst.
    var burstIngress: Double
    /// Backlog growth per second of burst: the peak backlog over the burst's length.
    var backlogGrowthPerSecond: Double
    var peakBacklogRecords: Int
    var peakBacklogBytes: Double
    /// From the burst's end until the backlog was back to what the consumers hold in hand.
    var drainSeconds: Double
    /// Records/s the backlog shrank by after the burst.
    var netDrainRate: Double
    /// The highest ingress rate: from the limit search, or the highest measured (a lower bound).
    var writeCapacity: Double
    var writeCapacityMeasuredBySearch: Bool
    var diskBudgetBytes: Double?
    var drainObjectiveSeconds: Double?
    /// The most records a burst may leave in the backlog under the budget and the objective.
    var maxBacklogRecords: Double?
    /// The highest burst rate for some durations (seconds → records/s), within both limits.
    var largestBursts: [Burst]
    /// Whether the measured burst fit the budget and the objective.
    var measuredBurstFits: Bool?

    struct Burst: Codable, Sendable {
        var seconds: Double
        /// Nil when nothing bounds it (no budget, no objective, no write capacity measured).
        var recordsPerSecond: Double?
        var backlogRecords: Double?
        var backlogBytes: Double?
    }

    init(
        run: PeakRun.Result, scenario: PeakScenario, diskBytes: Int, writeCapacity: Double?, diskBudgetBytes: Double?,
        drainObjectiveSeconds: Double?
    ) {
        diskBytesPerRecord = Double(diskBytes) / Double(Swift.max(1, run.produced))
        let samples = run.samples
        // Busy consumers: a backlog well beyond what they hold in hand.
        let busyThreshold = PeakRun.Result.busyBacklog(scenario)
        let measured = run.busyDrainRate(scenario)
        consumerCapacityMeasured = measured > 0
        let capacity = measured > 0 ? measured : scenario.capacity
        consumerCapacity = capacity
        let above = stride(from: 0.0, to: scenario.productionSeconds, by: 0.001).filter { scenario.rate(at: $0) > capacity }
        let start = above.first
        let end = above.last.map { $0 + 0.001 }
        burstStart = start
        burstEnd = end
        let inBurst = samples.filter { sample in start.map { sample.t > $0 } == true && end.map { sample.t <= $0 } == true }
        burstIngress = inBurst.isEmpty ? 0 : inBurst.map(\.ingress).reduce(0, +) / Double(inBurst.count)
        peakBacklogRecords = run.maxBacklog
        peakBacklogBytes = Double(run.maxBacklog) * diskBytesPerRecord
        let burstSeconds = (end ?? 0) - (start ?? 0)
        backlogGrowthPerSecond = burstSeconds > 0 ? Double(run.maxBacklog) / burstSeconds : 0
        // Drained: back to what the consumers hold in hand, after the burst.
        let inHand = Swift.max(scenario.consumers * scenario.consumerBatch, run.maxBacklog / 100)
        let peakAt = samples.first { $0.backlog == run.maxBacklog }?.t ?? (end ?? 0)
        let drainedAt = samples.first { $0.t >= Swift.max(peakAt, end ?? 0) && $0.backlog <= inHand }?.t ?? run.backlogClearedAt
        drainSeconds = Swift.max(0, drainedAt - (end ?? drainedAt))
        // Without a measured drain, the capacity minus the rate after the burst.
        netDrainRate =
            drainSeconds > 0.2 && run.maxBacklog > busyThreshold
            ? Double(run.maxBacklog) / drainSeconds
            : Swift.max(0, capacity - scenario.rate(at: Swift.max(0, scenario.productionSeconds - 0.001)))
        writeCapacityMeasuredBySearch = writeCapacity != nil
        self.writeCapacity = writeCapacity ?? (samples.map(\.ingress).max() ?? 0)
        self.diskBudgetBytes = diskBudgetBytes
        self.drainObjectiveSeconds = drainObjectiveSeconds
        var limit: Double?
        if let diskBudgetBytes { limit = diskBudgetBytes / Swift.max(diskBytesPerRecord, 1e-9) }
        if let drainObjectiveSeconds { limit = Swift.min(limit ?? .infinity, drainObjectiveSeconds * netDrainRate) }
        maxBacklogRecords = limit
        let perRecord = diskBytesPerRecord
        largestBursts = [1.0, 10, 60, 300, 900, 3600].map { seconds in
            let rate = Self.largestRate(seconds: seconds, capacity: capacity, writeCapacity: writeCapacity ?? .infinity, maxBacklog: limit)
            guard rate.isFinite else { return Burst(seconds: seconds) }
            let backlog = Swift.max(0, rate - capacity) * seconds
            return Burst(seconds: seconds, recordsPerSecond: rate, backlogRecords: backlog, backlogBytes: backlog * perRecord)
        }
        if diskBudgetBytes != nil || drainObjectiveSeconds != nil {
            measuredBurstFits =
                diskBudgetBytes.map { peakBacklogBytes <= $0 } != false && drainObjectiveSeconds.map { drainSeconds <= $0 } != false
        }
    }

    /// The highest rate a burst of `seconds` may have: the consumers' capacity plus the backlog
    /// allowed spread over the burst, and at most the write capacity.
    static func largestRate(seconds: Double, capacity: Double, writeCapacity: Double, maxBacklog: Double?) -> Double {
        guard let maxBacklog else { return writeCapacity }
        return Swift.min(writeCapacity, capacity + maxBacklog / Swift.max(seconds, 1e-9))
    }
}
