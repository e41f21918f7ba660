import Foundation
import Reservoir

/// `bench peak --find-limit`: the highest ingress rate the producer sustains on this machine for
/// the scenario's records, keys, partitions, codec and acks. Each trial appends at one constant
/// rate for a few seconds, with no consumers, into a topic of its own (deleted afterwards); it
/// passes when the append latency's p99 is within the objective and at most a small share of
/// records completed their append later than the objective after their scheduled time. The
/// rate doubles until a trial fails, then the search bisects between the highest pass and the
/// lowest failure until they are within 5%. A narrow failure is tried again once, so that one
/// hiccup does not end the search.
struct WriteCapacitySearch {
    struct Trial: Codable, Sendable {
        /// The rate asked for (records/s).
        var rate: Double
        /// Records appended per second over the trial.
        var achieved: Double
        var append: Percentiles
        /// From a record's scheduled time to its append's completion.
        var upstreamWait: Percentiles
        /// Records late by more than the objective, over all records.
        var lateShare: Double
        var usage: ResourceUsage.Interval
        var passed: Bool
        /// Why it failed: `latency`, `CPU` or `disk bandwidth`; nil when it passed.
        var limitedBy: String?
    }

    struct Result: Codable, Sendable {
        var appendP99ObjectiveMilliseconds: Double
        var maxLateShare: Double
        var trialSeconds: Double
        /// Appends were held to this rate (`--throttle`), if they were.
        var throttle: Double?
        var trials: [Trial]
        /// The highest rate that passed (records/s); 0 when none did.
        var recordsPerSecond: Double
        /// The same in megabytes (10^6 bytes) of record values per second.
        var megabytesPerSecond: Double
        /// Disk bytes per record at that rate (the topic's files over its records).
        var diskBytesPerRecord: Double
        /// The trial at the limit.
        var atLimit: Trial?
        /// Why the next rate failed.
        var limitedBy: String
        var explanation: String
    }

    let scenario: PeakScenario
    let directory: String
    let appendP99Milliseconds: Double
    let maxLateShare: Double
    let trialSeconds: Double
    let throttle: Double?
    let startRate: Double
    let progress: Bool

    func run() throws -> Result {
        let store = try Reservoir.open(at: directory, options: Reservoir.Options(logger: quietLogger()))
        defer { store.closeOrExit() }
        var trials: [Trial] = []
        var diskBytesPerRecord: [Double: Double] = [:]
        func attempt(_ rate: Double) throws -> Trial {
            var trial = try self.trial(store: store, rate: rate, number: trials.count, bytesPerRecord: &diskBytesPerRecord)
            trials.append(trial)
            // A narrow failure may be one hiccup (a page fault storm, another process): tried again.
            if !trial.passed && trial.lateShare < Swift.max(0.1, maxLateShare * 5) && trial.append.p99 < appendP99Milliseconds * 3 {
                trial = try self.trial(store: store, rate: rate, number: trials.count, bytesPerRecord: &diskBytesPerRecord)
                trials.append(trial)
            }
            return trial
        }
        var passed: Trial?
        var failed: Trial?
        var rate = startRate
        // Up by doubling (or down by halving, when the start fails) to bracket the limit.
        let first = try attempt(rate)
        if first.passed {
            passed = first
            while failed == nil && rate < 50_000_000 && trials.count < 40 {
                rate *= 2
                let trial = try attempt(rate)
                if trial.passed { passed = trial } else { failed = trial }
            }
        } else {
            failed = first
            while passed == nil && rate > 200 && trials.count < 40 {
                rate /= 2
                let trial = try attempt(rate)
                if trial.passed { passed = trial } else { failed = trial }
            }
        }
        // Bisect to within 5%.
        while let low = passed, let high = failed, high.rate > low.rate * 1.05, trials.count < 40 {
            let trial = try attempt(((low.rate + high.rate) / 2).rounded())
            if trial.passed { passed = trial } else { failed = trial }
        }
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        let limit = passed?.rate ?? 0
        let reason = failed?.limitedBy ?? "none found"
        return Result(
            appendP99ObjectiveMilliseconds: appendP99Milliseconds, maxLateShare: maxLateShare, trialSeconds: trialSeconds,
            throttle: throttle, trials: trials, recordsPerSecond: limit,
            megabytesPerSecond: limit * Double(scenario.recordBytes) / 1e6,
            diskBytesPerRecord: passed.flatMap { diskBytesPerRecord[$0.rate] } ?? 0, atLimit: passed, limitedBy: reason,
            explanation: explain(limit: passed, next: failed))
    }

    /// One constant-rate trial into a topic of its own.
    private func trial(store: Reservoir, rate: Double, number: Int, bytesPerRecord: inout [Double: Double]) throws -> Trial {
        var constant = scenario
        constant.profile = RateProfile(steps: [RateProfile.Step(start: 0, rate: rate)], end: trialSeconds)
        let topic = "limit-\(number)"
        try store.createTopic(topic, config: PeakBenchmark.topicConfig(constant))
        defer {
            // Only disk space is at stake (the store is the benchmark's own), but say so.
            do { try store.deleteTopic(topic) } catch {
                FileHandle.standardError.write(Data("limit search: trial topic \(topic) was not deleted: \(error)\n".utf8))
            }
        }
        // The sender first: its set-up (keys, builders) must not count against the schedule.
        let throttler = throttle.map(AppendThrottle.init)
        let send = try PeakBenchmark.sender(
            store: store, topic: topic, scenario: constant, acks: scenario.durable ? .durable : .buffered, throttle: throttler)
        let run = PeakRun(kind: .buffered, scenario: constant, lateAfterMilliseconds: appendP99Milliseconds)
        let before = ResourceUsage.now()
        try run.produce(batchLimit: 2000, deadline: trialSeconds * 1.5, send: send)
        var usage = ResourceUsage.now().since(before)
        usage.threadIdleShare = Double(run.idleNanoseconds) / 1e9 / Swift.max(usage.seconds, 1e-9)
        usage.threadThrottledShare = Double(throttler?.heldNanoseconds ?? 0) / 1e9 / Swift.max(usage.seconds, 1e-9)
        let result = run.result(samples: [], productionEnded: run.elapsed, partitionEnds: [])
        let logs = try (0..<constant.partitions).map { try store.log(topic: topic, partition: $0) }
        bytesPerRecord[rate] = Double(logs.reduce(0) { $0 + $1.sizeInBytes }) / Double(Swift.max(1, result.produced))
        // Records the deadline left unsent are late too.
        let scheduled = Swift.max(result.produced, Int(rate * trialSeconds))
        let lateShare = Double(result.lateRecords + scheduled - result.produced) / Double(Swift.max(1, scheduled))
        let passed = result.append.p99 <= appendP99Milliseconds && lateShare <= maxLateShare
        let trial = Trial(
            rate: rate, achieved: Double(result.produced) / Swift.max(usage.seconds, 1e-9), append: result.append,
            upstreamWait: result.upstreamWait, lateShare: lateShare, usage: usage, passed: passed,
            limitedBy: passed ? nil : Self.resource(usage, durable: scenario.durable))
        if progress {
            let line = String(
                format: "\rlimit search: %@/s %@ (append p99 %.2f ms, %.1f%% late, producer thread %.0f%% busy)   ",
                grouped(rate), passed ? "kept up" : "fell behind", result.append.p99, lateShare * 100, usage.threadCPUShare * 100)
            FileHandle.standardError.write(Data(line.utf8))
        }
        return trial
    }

    /// What held a failed trial back, from where the producer thread's time went: on a core
    /// (busy: CPU), waiting for one (other threads and processes: CPU), or blocked in the kernel
    /// (writes held by page-cache writeback, fsyncs: disk bandwidth). Otherwise the appends' own
    /// latency (or `--throttle`).
    static func resource(_ usage: ResourceUsage.Interval, durable: Bool) -> String {
        // An imposed rate explains itself, whatever else the machine is doing.
        if usage.threadThrottledShare >= 0.15 { return "latency" }
        if usage.threadCPUShare >= 0.85 || usage.processCPUShare >= 0.9 || (usage.threadRunQueueShare ?? 0) >= 0.15 { return "CPU" }
        if usage.threadBlockedShare >= 0.15 || (usage.ioStallShare ?? 0) >= 0.2 { return "disk bandwidth" }
        return "latency"
    }

    private func explain(limit: Trial?, next: Trial?) -> String {
        guard let limit else {
            return
                "No rate down to \(grouped(startRate / 2))/s kept the append p99 within \(grouped(appendP99Milliseconds, decimals: 1)) ms."
        }
        var text =
            "The producer kept up with \(grouped(limit.rate))/s (\(grouped(limit.rate * Double(scenario.recordBytes) / 1e6, decimals: 1)) MB/s of values): "
            + "append p50 \(grouped(limit.append.p50, decimals: 2)) ms, p99 \(grouped(limit.append.p99, decimals: 2)) ms."
        guard let next else { return text + " No higher rate was tried." }
        let cpu = String(format: "%.0f%%", next.usage.threadCPUShare * 100)
        let late = String(format: "%.1f%% of records late", next.lateShare * 100)
        switch next.limitedBy {
        case "CPU":
            let waiting =
                (next.usage.threadRunQueueShare ?? 0) >= 0.15
                ? String(
                    format: ", and waited for a core %.0f%% of the time (other threads and processes held them)",
                    (next.usage.threadRunQueueShare ?? 0) * 100) : ""
            text +=
                " At \(grouped(next.rate))/s it fell behind (\(late)), bound by CPU: the producer thread was busy \(cpu) of the time\(waiting)."
        case "disk bandwidth":
            let written = next.usage.writtenBytesPerSecond.map { " while the process wrote \(decimalBytes($0))/s" } ?? ""
            text +=
                " At \(grouped(next.rate))/s it fell behind (\(late)), bound by the disk: the producer thread was blocked in the kernel "
                + String(format: "%.0f%%", next.usage.threadBlockedShare * 100)
                + " of the time\(written) (page-cache writeback holding writes back, or fsyncs), and busy \(cpu)."
        default:
            text +=
                " At \(grouped(next.rate))/s it fell behind (\(late); append p99 \(grouped(next.append.p99, decimals: 2)) ms, max \(grouped(next.append.max, decimals: 1)) ms) while neither CPU (producer thread \(cpu) busy) nor the disk was saturated"
                + (throttle.map { ": appends were throttled to \(grouped($0))/s" } ?? ": some appends stalled") + "."
        }
        return text
    }
}
