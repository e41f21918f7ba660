import ArgumentParser
import Foundation
import Reservoir
import Synchronization

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: the peak-traffic scenario, and producer and consumer throughput.",
        subcommands: [Peak.self, Produce.self, Consume.self], defaultSubcommand: Peak.self)

    /// The store a benchmark runs on: `--dir`, or a temporary one removed afterwards unless kept.
    struct StoreChoice: ParsableArguments {
        @Option(help: "Store directory (default: a new temporary one).") var dir: String?
        @Flag(name: .customLong("keep-store"), help: "Keep the store afterwards (to count its records independently).") var keepStore =
            false

        func directory(_ label: String) -> String {
            dir ?? NSTemporaryDirectory() + "reservoir-bench-\(label)-\(getpid())"
        }

        func finish(_ path: String) {
            if dir == nil && !keepStore { try? FileManager.default.removeItem(atPath: path) }
            if keepStore || dir != nil { FileHandle.standardError.write(Data("store kept at \(path)\n".utf8)) }
        }
    }

    struct Peak: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "peak",
            abstract: "A traffic peak absorbed by Reservoir, against a direct hand-off: what it costs and how big a peak fits.",
            discussion: """
                Producers append at --base-rate, then at --burst-multiple times it for --burst seconds, then the base \
                rate again (or follow --profile FILE, rows of: seconds since the start, records/s); consumers doing \
                --cost-us of simulated work per record drain the backlog. The same scenario then runs with no buffer \
                (a bounded in-memory hand-off). The report gives what the burst cost (disk bytes per record, backlog \
                growth, peak backlog, drain time) and, with --disk-budget and --drain-objective, the largest bursts \
                that fit both. --find-limit first searches the highest rate the producer sustains within --append-p99. \
                --compare A.json B.json puts earlier runs side by side. Writes REPORT/index.html, REPORT/chart.svg, \
                REPORT/capacity.svg and REPORT/report.json.
                """)
        @OptionGroup var store: StoreChoice
        @Option(name: .customLong("base-rate"), help: "Records/s outside the burst (default 10000).") var baseRate: Double?
        @Option(name: .customLong("burst-multiple"), help: "The burst rate as a multiple of the base rate (default 10).")
        var burstMultiple: Double?
        @Option(help: "step, spike or sine (default step).") var shape: String?
        @Option(help: "Seconds at the base rate before the burst (default 4).") var warmup: Double?
        @Option(help: "Seconds of burst (default 8).") var burst: Double?
        @Option(help: "Seconds at the base rate after the burst (default 6).") var cooldown: Double?
        @Option(
            help: ArgumentHelp(
                "A rate profile to replay instead: CSV rows of seconds since the start (or Unix seconds) and records/s.",
                valueName: "file")) var profile: String?
        @Option(name: .customLong("record-bytes"), help: "Value size.") var recordBytes = 200
        @Option(help: "Distinct keys.") var keys = 10_000
        @Option(help: "Partitions.") var partitions = 4
        @Option(help: "buffered or durable.") var acks = "buffered"
        @Option(help: "none, gzip, snappy, lz4 or zstd.") var compression = "none"
        @Option(help: "Consumers per group.") var consumers = 2
        @Option(name: .customLong("cost-us"), help: "Simulated work per record, in microseconds.") var costMicroseconds = 66.0
        @Option(help: "group (consumer groups) or queue (work queues).") var model = "group"
        @Option(help: "Consumer groups (each sees every record).") var groups = 1
        @Flag(name: .customLong("find-limit"), help: "First search the highest ingress rate the producer sustains.") var findLimit = false
        @Option(name: .customLong("append-p99"), help: "The limit search's objective: append latency p99, in ms.") var appendP99 = 10.0
        @Option(name: .customLong("max-late-percent"), help: "The limit search's tolerance: records late by more than the objective, in %.")
        var maxLatePercent = 1.0
        @Option(name: .customLong("trial-seconds"), help: "Seconds per limit-search trial.") var trialSeconds = 3.0
        @Option(name: .customLong("start-rate"), help: "The limit search's first rate (default: the base rate).") var startRate: Double?
        @Option(help: "Hold appends to this many records/s, as a slower machine would (applies to every run).") var throttle: Double?
        @Option(name: .customLong("disk-budget"), help: "Disk space the backlog may use, e.g. 500MB or 2GiB.") var diskBudget: String?
        @Option(name: .customLong("drain-objective"), help: "Seconds within which the backlog must drain after a burst.")
        var drainObjective: Double?
        @Option(help: "A name for this run in comparisons.") var label: String?
        @Option(
            parsing: .upToNextOption, help: ArgumentHelp("Compare earlier runs' report.json files instead of running.", valueName: "report")
        )
        var compare: [String] = []
        @Option(help: "Report folder.") var report = "reservoir-report"
        @Flag(name: .customLong("skip-baseline"), help: "Run only through Reservoir.") var skipBaseline = false
        @Flag(help: "Print the report as JSON on stdout.") var json = false

        func validate() throws {
            if !compare.isEmpty {
                guard compare.count >= 2 else { throw ValidationError("--compare needs at least two report.json files") }
                guard !findLimit, profile == nil else { throw ValidationError("--compare reads earlier reports; it runs nothing") }
                return
            }
            if let shape {
                guard PeakScenario.Shape(rawValue: shape) != nil else { throw ValidationError("--shape must be step, spike or sine") }
            }
            guard PeakScenario.Model(rawValue: model) != nil else { throw ValidationError("--model must be group or queue") }
            guard acks == "buffered" || acks == "durable" else { throw ValidationError("--acks must be buffered or durable") }
            guard CompressionCodec(name: compression) != nil else {
                throw ValidationError("--compression must be none, gzip, snappy, lz4 or zstd")
            }
            if profile != nil {
                guard baseRate == nil, burstMultiple == nil, shape == nil, warmup == nil, burst == nil, cooldown == nil else {
                    throw ValidationError("--profile replaces --base-rate, --burst-multiple, --shape, --warmup, --burst and --cooldown")
                }
            }
            let scenario = self.scenario
            guard scenario.baseRate > 0, scenario.burstMultiple >= 1, scenario.burstSeconds > 0, scenario.warmupSeconds >= 0,
                scenario.cooldownSeconds >= 0, costMicroseconds > 0
            else {
                throw ValidationError("rates, durations and cost must be positive")
            }
            guard scenario.burstRate <= 100_000_000, scenario.productionSeconds <= 3600, costMicroseconds <= 1_000_000 else {
                throw ValidationError(
                    "the burst rate may be at most 100 M records/s, the schedule at most an hour, the cost at most 1 s per record")
            }
            guard recordBytes >= 16, keys > 0, partitions > 0, consumers > 0, groups > 0 else {
                throw ValidationError("--record-bytes must be at least 16; counts must be positive")
            }
            guard appendP99 > 0, appendP99 <= 60_000 else { throw ValidationError("--append-p99 must be between 0 and 60000 ms") }
            guard maxLatePercent >= 0, maxLatePercent <= 100 else { throw ValidationError("--max-late-percent must be between 0 and 100") }
            guard trialSeconds >= 0.2, trialSeconds <= 600 else { throw ValidationError("--trial-seconds must be between 0.2 and 600") }
            if let startRate {
                guard startRate >= 100, startRate <= 100_000_000 else {
                    throw ValidationError("--start-rate must be between 100 and 100 M records/s")
                }
            }
            if let throttle {
                guard throttle > 0, throttle <= 100_000_000 else { throw ValidationError("--throttle must be a positive rate") }
            }
            if let diskBudget {
                guard let bytes = parseSize(diskBudget), bytes > 0 else {
                    throw ValidationError("--disk-budget must be a size such as 500MB, 2GiB or 1000000 (bytes), not \(diskBudget)")
                }
            }
            if let drainObjective {
                guard drainObjective > 0, drainObjective <= 86_400 * 7 else {
                    throw ValidationError("--drain-objective must be between 0 and a week, in seconds")
                }
            }
        }

        /// The scenario from the options (without the profile, read in `run`).
        var scenario: PeakScenario {
            var scenario = PeakScenario()
            scenario.baseRate = baseRate ?? 10_000
            scenario.burstMultiple = burstMultiple ?? 10
            scenario.shape = shape.flatMap(PeakScenario.Shape.init(rawValue:)) ?? .step
            scenario.warmupSeconds = warmup ?? 4
            scenario.burstSeconds = burst ?? 8
            scenario.cooldownSeconds = cooldown ?? 6
            scenario.recordBytes = recordBytes
            scenario.keys = keys
            scenario.partitions = partitions
            scenario.durable = acks == "durable"
            scenario.compression = compression
            scenario.consumers = consumers
            scenario.costMicroseconds = costMicroseconds
            scenario.model = PeakScenario.Model(rawValue: model) ?? .group
            scenario.groups = groups
            return scenario
        }

        func run() throws {
            if !compare.isEmpty {
                let comparison = try PeakComparison(paths: compare)
                print(comparison.table)
                return
            }
            var scenario = self.scenario
            if let profile { scenario.profile = try RateProfile(path: profile) }
            let path = store.directory("peak")
            defer { store.finish(path) }
            try? FileManager.default.removeItem(atPath: path)
            let interactive = isatty(STDERR_FILENO) == 1 && !json
            let config = PeakBenchmark.topicConfig(scenario)
            var result = PeakReport(
                scenario: scenario, runs: [], label: label, command: commandLineText(), machine: MachineInfo.current(storeDirectory: path),
                settings: [
                    "partitions": "\(config.partitions)", "compression": "\(config.compression)", "segmentBytes": "\(config.segmentBytes)",
                    "flush": "\(config.flushPolicy)", "acks": acks, "recordBytes": "\(recordBytes)", "keys": "\(keys)",
                    "throttle": throttle.map { grouped($0) + "/s" } ?? "none",
                ])
            if findLimit {
                FileHandle.standardError.write(Data("limit search: \(appendP99) ms append p99, at most \(maxLatePercent)% late\n".utf8))
                let search = WriteCapacitySearch(
                    scenario: scenario, directory: path, appendP99Milliseconds: appendP99, maxLateShare: maxLatePercent / 100,
                    trialSeconds: trialSeconds, throttle: throttle, startRate: startRate ?? scenario.baseRate, progress: interactive)
                result.limit = try search.run()
            }
            FileHandle.standardError.write(Data("peak scenario: \(scenario.summary)\n".utf8))
            var benchmark = PeakBenchmark(scenario: scenario, directory: path, progress: interactive)
            benchmark.throttle = throttle
            benchmark.lateAfterMilliseconds = appendP99
            let (buffered, diskBytes) = try benchmark.runBuffered()
            var runs = [buffered]
            if !skipBaseline { runs.append(try benchmark.runBaseline()) }
            result.runs = runs
            result.cost = BurstCost(
                run: buffered, scenario: scenario, diskBytes: diskBytes, writeCapacity: result.limit?.recordsPerSecond,
                diskBudgetBytes: diskBudget.flatMap(parseSize), drainObjectiveSeconds: drainObjective)
            result.latencyExplanation = LatencyExplanation.sentences(scenario: scenario, runs: runs)
            try result.write(to: report)
            if json {
                print(try result.json())
            } else {
                print(result.text)
                print("\nreport: \(report)/index.html (charts: \(report)/chart.svg, \(report)/capacity.svg)")
            }
            guard runs.allSatisfy(\.checksumsMatch) else {
                throw CLIFailure("records were lost or delivered twice: produced \(runs.map(\.produced)), consumed \(runs.map(\.consumed))")
            }
        }
    }

    struct Produce: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "produce", abstract: "Producer throughput: records/s, MB/s, append latency.")
        @OptionGroup var store: StoreChoice
        @Option(help: "Records to append (per run).") var records = 5_000_000
        @Option(help: "Stop after this many seconds instead.") var duration: Double?
        @Option(name: .customLong("record-bytes"), help: "Value size.") var recordBytes = 100
        @Option(help: "Records per batch.") var batch = 1000
        @Option(help: "buffered or durable.") var acks = "buffered"
        @Option(help: "none, gzip, snappy, lz4 or zstd.") var compression = "none"
        @Option(help: "Partitions.") var partitions = 1
        @Option(help: "Producer threads (each appends to its own partitions, round robin).") var producers = 1
        @Flag(
            help:
                "Send batches through a BatchProducer (its thread writes while the next batch fills); latency is then the time send() blocked."
        ) var pipelined = false
        @Flag(help: "Print the figures as JSON.") var json = false

        func validate() throws {
            guard records > 0, recordBytes > 0, batch > 0, partitions > 0, producers > 0 else {
                throw ValidationError("counts must be positive")
            }
            if let duration {
                guard duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be between 0 and 86400 seconds") }
            }
            guard acks == "buffered" || acks == "durable" else { throw ValidationError("--acks must be buffered or durable") }
            guard CompressionCodec(name: compression) != nil else {
                throw ValidationError("--compression must be none, gzip, snappy, lz4 or zstd")
            }
        }

        func run() throws {
            let path = store.directory("produce")
            defer { store.finish(path) }
            let reservoir = try Reservoir.open(at: path, options: Reservoir.Options(logger: quietLogger()))
            defer { reservoir.closeOrExit() }
            let codec = CompressionCodec(name: compression) ?? .none
            if !reservoir.topicNames.contains("bench") {
                try reservoir.createTopic("bench", config: TopicConfig(partitions: partitions, compression: codec))
            }
            let ack: Acks = acks == "durable" ? .durable : .buffered
            let latency = LatencyRecorder()
            let appended = SharedCount()
            let failure = Mutex<String?>(nil)
            let deadline = duration.map { monotonicNow() + UInt64($0 * 1e9) }
            let perProducer = records / producers
            let finished = DispatchSemaphore(value: 0)
            let started = monotonicNow()
            for producer in 0..<producers {
                Thread.detachNewThread { [recordBytes, batch, partitions, producers, pipelined] in
                    do {
                        let builder = try reservoir.makeBatchBuilder(for: "bench")
                        let pipeline = pipelined ? try reservoir.makeProducer(for: "bench", acks: ack) : nil
                        var value = [UInt8](repeating: UInt8(ascii: "v"), count: recordBytes)
                        var done = 0
                        var round = 0
                        while deadline.map({ monotonicNow() < $0 }) ?? (done < perProducer) {
                            let count = deadline == nil ? Swift.min(batch, perProducer - done) : batch
                            try value.withUnsafeMutableBytes { bytes in
                                for index in 0..<count {
                                    bytes.storeBytes(of: UInt64(done + index), toByteOffset: 0, as: UInt64.self)
                                    try builder.append(key: nil, value: UnsafeRawBufferPointer(bytes))
                                }
                            }
                            let partition = (producer + round * producers) % partitions
                            let began = monotonicNow()
                            if let pipeline {
                                try pipeline.send(builder, partition: partition)
                            } else {
                                try reservoir.append(to: "bench", batch: builder, partition: partition, acks: ack)
                            }
                            latency.record(nanoseconds: monotonicNow() - began)
                            done += count
                            round += 1
                        }
                        try pipeline?.close()
                        appended.value.add(done, ordering: .relaxed)
                    } catch {
                        failure.withLock { $0 = "\(error)" }
                    }
                    finished.signal()
                }
            }
            for _ in 0..<producers { finished.wait() }
            let seconds = Double(monotonicNow() - started) / 1e9
            if let failure = failure.withLock({ $0 }) { throw CLIFailure(failure) }
            let total = appended.value.load(ordering: .relaxed)
            let rate = Double(total) / seconds
            let p = latency.percentiles
            if json {
                print(
                    "{\"records\":\(total),\"seconds\":\(seconds),\"recordsPerSecond\":\(rate),\"megabytesPerSecond\":\(rate * Double(recordBytes) / 1e6),\"pipelined\":\(pipelined),\"batchLatencyMs\":{\"p50\":\(p.p50),\"p99\":\(p.p99),\"p999\":\(p.p999),\"max\":\(p.max)}}"
                )
            } else {
                print(
                    String(
                        format:
                            "%d records in %.2f s: %@ records/s, %.1f MB/s; batch \(pipelined ? "send" : "append") latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.2f ms",
                        total, seconds, format(rate), rate * Double(recordBytes) / 1e6, p.p50, p.p99, p.p999, p.max))
            }
        }
    }

    struct Consume: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "consume", abstract: "Consumer throughput of a group member over a topic it fills first.")
        @OptionGroup var store: StoreChoice
        @Option(help: "Records to write, then read.") var records = 5_000_000
        @Option(name: .customLong("record-bytes"), help: "Value size.") var recordBytes = 100
        @Option(help: "Partitions.") var partitions = 4
        @Option(help: "Group members (tasks).") var members = 1
        @Option(help: "none, gzip, snappy, lz4 or zstd.") var compression = "none"
        @Flag(help: "Print the figures as JSON.") var json = false

        func validate() throws {
            guard records > 0, recordBytes > 0, partitions > 0, members > 0 else { throw ValidationError("counts must be positive") }
            guard CompressionCodec(name: compression) != nil else {
                throw ValidationError("--compression must be none, gzip, snappy, lz4 or zstd")
            }
        }

        func run() throws {
            let path = store.directory("consume")
            defer { store.finish(path) }
            let reservoir = try Reservoir.open(at: path, options: Reservoir.Options(logger: quietLogger()))
            defer { reservoir.closeOrExit() }
            try reservoir.createTopic(
                "bench", config: TopicConfig(partitions: partitions, compression: CompressionCodec(name: compression) ?? .none))
            let builder = try reservoir.makeBatchBuilder(for: "bench")
            let value = [UInt8](repeating: UInt8(ascii: "v"), count: recordBytes)
            var written = 0
            while written < records {
                let count = Swift.min(1000, records - written)
                for _ in 0..<count { try builder.append(key: nil, value: value) }
                try reservoir.append(to: "bench", batch: builder, partition: (written / 1000) % partitions, acks: .buffered)
                written += count
            }
            let group = try (0..<members).map { _ in try reservoir.consumer(group: "bench", topics: ["bench"]) }
            let total = records
            let box = ResultHolder()
            // Latency here: how long each run of 1000 records takes to be handed out.
            let perThousand = LatencyRecorder()
            let done = DispatchSemaphore(value: 0)
            let started = monotonicNow()
            Task {
                let counted = SharedCount()
                let bytes = SharedCount()
                await withTaskGroup(of: Void.self) { tasks in
                    for member in group {
                        tasks.addTask {
                            var sum = 0
                            var seen = 0
                            var mark = monotonicNow()
                            do {
                                for try await record in member.records {
                                    sum &+= record.valueCount ?? 0
                                    seen += 1
                                    if seen % 1000 == 0 {
                                        let now = monotonicNow()
                                        perThousand.record(nanoseconds: now - mark)
                                        mark = now
                                    }
                                    if counted.value.add(1, ordering: .relaxed).newValue >= total { break }
                                }
                            } catch {}
                            bytes.value.add(sum, ordering: .relaxed)
                        }
                    }
                    while counted.value.load(ordering: .relaxed) < total { try? await Task.sleep(nanoseconds: 1_000_000) }
                    for member in group { try? member.close() }
                }
                box.seconds.withLock { $0 = Double(monotonicNow() - started) / 1e9 }
                done.signal()
            }
            done.wait()
            let seconds = box.seconds.withLock { $0 }
            let rate = Double(total) / seconds
            let p = perThousand.percentiles
            if json {
                print(
                    "{\"records\":\(total),\"seconds\":\(seconds),\"recordsPerSecond\":\(rate),\"megabytesPerSecond\":\(rate * Double(recordBytes) / 1e6),\"perThousandRecordsMs\":{\"p50\":\(p.p50),\"p99\":\(p.p99),\"p999\":\(p.p999),\"max\":\(p.max)}}"
                )
            } else {
                print(
                    String(
                        format:
                            "%d records in %.2f s by %d member%@: %@ records/s, %.1f MB/s; per 1000 records p50 %.3f ms, p99 %.3f ms, max %.2f ms",
                        total, seconds, members, members == 1 ? "" : "s", format(rate), rate * Double(recordBytes) / 1e6, p.p50, p.p99,
                        p.max))
            }
        }
    }
}
