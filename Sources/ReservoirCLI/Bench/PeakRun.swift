import Dispatch
import Foundation
import Histogram
import Reservoir
import Synchronization

/// One run of the peak scenario: through a Reservoir topic (`buffered`) or through a bounded
/// in-memory hand-off (`baseline`), sampled every 100 ms.
final class PeakRun: Sendable {
    enum Kind: String, Codable, Sendable { case buffered, baseline }

    struct Sample: Codable, Sendable {
        /// Seconds since the start.
        var t: Double
        /// The rate the scenario asked for.
        var target: Double
        /// Records appended per second over the last interval.
        var ingress: Double
        /// Records consumed per second over the last interval, per group.
        var egress: [Double]
        /// Records appended but not yet consumed (the slowest group), plus those the producer
        /// owes the schedule.
        var backlog: Int
        var backlogBytes: Int
        var diskBytes: Int
    }

    struct Result: Codable, Sendable {
        var kind: Kind
        var samples: [Sample]
        var produced: Int
        var consumed: [Int]
        var checksumsMatch: Bool
        var endToEnd: Percentiles
        var append: Percentiles
        var maxBacklog: Int
        /// Most records the producer was behind its schedule.
        var maxBehind: Int
        /// When the producer finished its schedule (seconds since the start; the schedule itself
        /// ends at the scenario's production seconds).
        var productionEndedAt: Double
        /// When every group had consumed everything (seconds since the start).
        var backlogClearedAt: Double
        var seconds: Double
        var partitionEnds: [Int64]
        /// How long records waited before their append completed, from the moment the schedule
        /// wanted them (the producer's own lateness plus the append).
        var upstreamWait: Percentiles
        /// Records whose append completed more than the latency objective after their time.
        var lateRecords: Int
    }

    let kind: Kind
    let scenario: PeakScenario
    private let produced = Atomic<Int>(0)
    private let producedChecksum = Atomic<Int>(0)
    private let behind = Atomic<Int>(0)
    private let consumed: [SharedCount]
    private let consumedChecksum: [SharedCount]
    private let endToEnd = LatencyRecorder()
    private let appendLatency = LatencyRecorder()
    private let producing = Atomic<Bool>(true)
    private let start = monotonicNow()
    private let upstream = LatencyRecorder()
    private let late = Atomic<Int>(0)
    /// A record is late when its append completes more than this after its scheduled time.
    let lateAfterNanoseconds: UInt64

    init(kind: Kind, scenario: PeakScenario, lateAfterMilliseconds: Double = 10) {
        self.kind = kind
        self.scenario = scenario
        lateAfterNanoseconds = UInt64(max(0, lateAfterMilliseconds) * 1e6)
        consumed = (0..<scenario.groups).map { _ in SharedCount() }
        consumedChecksum = (0..<scenario.groups).map { _ in SharedCount() }
    }

    var elapsed: Double { Double(monotonicNow() - start) / 1e9 }

    /// Mixes a record's identity (key index and position) into a checksum that both sides add up.
    static func mix(key: Int, position: Int64) -> Int {
        var x = UInt64(truncatingIfNeeded: key) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: position) &* 0xC2B2_AE3D_27D4_EB4F
        x ^= x >> 31
        return Int(truncatingIfNeeded: x)
    }

    // MARK: The producer

    /// Appends on the schedule from this (dedicated) thread; `send` writes one batch of
    /// (key index, append time) and returns the position of each record.
    private let idle = Atomic<UInt64>(0)
    /// Time the producer slept because it was ahead of its schedule (nanoseconds).
    var idleNanoseconds: UInt64 { idle.load(ordering: .relaxed) }

    /// Stops at `deadline` seconds even if records are still due (a trial far beyond capacity).
    func produce(batchLimit: Int, deadline: Double = .infinity, send: ([(key: Int, time: UInt64)]) throws -> [Int64]) throws {
        let table = PeakScenario.cumulative(scenario)
        var sent = 0
        var scheduledStep = 0
        var batch: [(key: Int, time: UInt64)] = []
        batch.reserveCapacity(batchLimit)
        var waits = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        var lateCount = 0
        defer {
            upstream.merge(waits)
            late.store(lateCount, ordering: .relaxed)
        }
        while true {
            let t = elapsed
            let step = Swift.min(table.count - 1, Int(t * 1000))
            let due = Int(table[step]) - sent
            behind.store(Swift.max(0, due), ordering: .relaxed)
            if due > maxBehindSeen.load(ordering: .relaxed) { maxBehindSeen.store(due, ordering: .relaxed) }
            if t >= scenario.productionSeconds && due <= 0 || t >= deadline { break }
            if due <= 0 {
                let before = monotonicNow()
                usleep(500)
                idle.wrappingAdd(monotonicNow() &- before, ordering: .relaxed)
                continue
            }
            batch.removeAll(keepingCapacity: true)
            // Each record carries the time the schedule wanted it (the moment its event happened
            // upstream), so that end-to-end latency includes any wait before the append.
            for index in 0..<Swift.min(due, batchLimit) {
                while scheduledStep < table.count - 1 && table[scheduledStep] < Double(sent + index + 1) { scheduledStep += 1 }
                batch.append(((sent + index) % scenario.keys, start + UInt64(Swift.max(0, scheduledStep - 1)) * 1_000_000))
            }
            let began = monotonicNow()
            let positions = try send(batch)
            let done = monotonicNow()
            appendLatency.record(nanoseconds: done - began)
            // Records due in the same millisecond share a scheduled time: one histogram entry each run.
            var runStart = 0
            while runStart < batch.count {
                var runEnd = runStart + 1
                while runEnd < batch.count && batch[runEnd].time == batch[runStart].time { runEnd += 1 }
                let wait = done &- batch[runStart].time
                _ = waits.record(Swift.max(1, wait), count: UInt64(runEnd - runStart))
                if wait > lateAfterNanoseconds { lateCount += runEnd - runStart }
                runStart = runEnd
            }
            var checksum = 0
            for (record, position) in zip(batch, positions) { checksum &+= Self.mix(key: record.key, position: position) }
            producedChecksum.wrappingAdd(checksum, ordering: .relaxed)
            sent += batch.count
            produced.store(sent, ordering: .relaxed)
        }
        producing.store(false, ordering: .releasing)
    }

    var isProducing: Bool { producing.load(ordering: .acquiring) }
    var producedCount: Int { produced.load(ordering: .relaxed) }
    func consumedCount(_ group: Int) -> Int { consumed[group].value.load(ordering: .relaxed) }

    /// Counts one consumed record of `group`.
    func consumed(group: Int, key: Int, position: Int64, appendedAt: UInt64) {
        endToEnd.record(nanoseconds: monotonicNow() &- appendedAt)
        consumedChecksum[group].value.wrappingAdd(Self.mix(key: key, position: position), ordering: .relaxed)
        consumed[group].value.add(1, ordering: .relaxed)
    }

    /// Whether every group consumed everything produced.
    var drained: Bool {
        !isProducing && consumed.allSatisfy { $0.value.load(ordering: .relaxed) >= producedCount }
    }

    /// Simulated work for `count` records: a sleep, so that it costs no CPU.
    func work(records count: Int) -> UInt64 {
        UInt64(Double(count) * scenario.costMicroseconds * 1000)
    }

    // MARK: Sampling

    /// Samples every 100 ms until `done` says stop, reporting progress through `progress`.
    func sample(
        diskBytes: @escaping () -> Int, inQueue: @escaping () -> Int, bytesPerRecord: @escaping () -> Double,
        until done: @escaping () -> Bool, progress: (Sample) -> Void
    ) -> [Sample] {
        var samples: [Sample] = []
        var lastProduced = 0
        var lastConsumed = [Int](repeating: 0, count: scenario.groups)
        var lastTime = elapsed
        while true {
            usleep(100_000)
            let t = elapsed
            let interval = Swift.max(0.001, t - lastTime)
            let producedNow = producedCount
            let consumedNow = (0..<scenario.groups).map(consumedCount)
            let backlog = producedNow - (consumedNow.min() ?? producedNow) + behind.load(ordering: .relaxed) + inQueue()
            let sample = Sample(
                t: t, target: scenario.rate(at: t), ingress: Double(producedNow - lastProduced) / interval,
                egress: zip(consumedNow, lastConsumed).map { Double($0 - $1) / interval }, backlog: backlog,
                backlogBytes: Int(Double(backlog) * bytesPerRecord()), diskBytes: diskBytes())
            samples.append(sample)
            progress(sample)
            lastProduced = producedNow
            lastConsumed = consumedNow
            lastTime = t
            if done() { return samples }
        }
    }

    func result(samples: [Sample], productionEnded: Double, partitionEnds: [Int64]) -> Result {
        let producedTotal = producedCount
        let consumedTotals = (0..<scenario.groups).map(consumedCount)
        let expected = producedChecksum.load(ordering: .relaxed)
        let drainedAt = samples.first { $0.t >= productionEnded && $0.backlog == 0 }?.t ?? elapsed
        return Result(
            kind: kind, samples: samples, produced: producedTotal, consumed: consumedTotals,
            checksumsMatch: consumedChecksum.allSatisfy { $0.value.load(ordering: .relaxed) == expected }
                && consumedTotals.allSatisfy { $0 == producedTotal },
            endToEnd: endToEnd.percentiles, append: appendLatency.percentiles, maxBacklog: samples.map(\.backlog).max() ?? 0,
            maxBehind: maxBehindSeen.load(ordering: .relaxed), productionEndedAt: productionEnded, backlogClearedAt: drainedAt,
            seconds: elapsed,
            partitionEnds: partitionEnds, upstreamWait: upstream.percentiles, lateRecords: late.load(ordering: .relaxed))
    }

    /// The most the producer fell behind, tracked while it ran.
    private let maxBehindSeen = Atomic<Int>(0)
}

extension PeakRun.Result {
    /// A backlog that keeps every consumer busy: well beyond what they hold in hand.
    static func busyBacklog(_ scenario: PeakScenario) -> Int {
        Swift.max(1000, scenario.consumers * scenario.consumerBatch * 4)
    }

    /// The slowest group's mean consumption rate while a backlog kept the consumers busy
    /// (records/s); 0 when it never did.
    func busyDrainRate(_ scenario: PeakScenario) -> Double {
        let busy = samples.filter { $0.backlog > Self.busyBacklog(scenario) }
        return busy.isEmpty ? 0 : busy.map { $0.egress.min() ?? 0 }.reduce(0, +) / Double(busy.count)
    }
}

func monotonicNow() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
