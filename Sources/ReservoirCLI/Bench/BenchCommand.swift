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
            abstract: "A traffic peak absorbed by Reservoir, against a direct hand-off, with a chart.",
            discussion: """
                Producers append at --base-rate, then at --burst-multiple times it for --burst seconds, then the base \
                rate again; consumers doing --cost-us of simulated work per record drain the backlog. The same \
                scenario then runs with no buffer (a bounded in-memory hand-off). Writes REPORT/index.html, \
                REPORT/chart.svg and REPORT/report.json.
                """)
        @OptionGroup var store: StoreChoice
        @Option(name: .customLong("base-rate"), help: "Records/s outside the burst.") var baseRate = 10_000.0
        @Option(name: .customLong("burst-multiple"), help: "The burst rate as a multiple of the base rate.") var burstMultiple = 10.0
        @Option(help: "step, spike or sine.") var shape = "step"
        @Option(help: "Seconds at the base rate before the burst.") var warmup = 4.0
        @Option(help: "Seconds of burst.") var burst = 8.0
        @Option(help: "Seconds at the base rate after the burst.") var cooldown = 6.0
        @Option(name: .customLong("record-bytes"), help: "Value size.") var recordBytes = 200
        @Option(help: "Distinct keys.") var keys = 10_000
        @Option(help: "Partitions.") var partitions = 4
        @Option(help: "buffered or durable.") var acks = "buffered"
        @Option(help: "none, gzip, snappy, lz4 or zstd.") var compression = "none"
        @Option(help: "Consumers per group.") var consumers = 2
        @Option(name: .customLong("cost-us"), help: "Simulated work per record, in microseconds.") var costMicroseconds = 66.0
        @Option(help: "group (consumer groups) or queue (work queues).") var model = "group"
        @Option(help: "Consumer groups (each sees every record).") var groups = 1
        @Option(help: "Report folder.") var report = "reservoir-report"
        @Flag(name: .customLong("skip-baseline"), help: "Run only through Reservoir.") var skipBaseline = false
        @Flag(help: "Print the report as JSON on stdout.") var json = false

        func validate() throws {
            guard PeakScenario.Shape(rawValue: shape) != nil else { throw ValidationError("--shape must be step, spike or sine") }
            guard PeakScenario.Model(rawValue: model) != nil else { throw ValidationError("--model must be group or queue") }
            guard acks == "buffered" || acks == "durable" else { throw ValidationError("--acks must be buffered or durable") }
            guard CompressionCodec(name: compression) != nil else {
                throw ValidationError("--compression must be none, gzip, snappy, lz4 or zstd")
            }
            guard baseRate > 0, burstMultiple >= 1, burst > 0, warmup >= 0, cooldown >= 0, costMicroseconds > 0 else {
                throw ValidationError("rates, durations and cost must be positive")
            }
            guard baseRate * burstMultiple <= 100_000_000, warmup + burst + cooldown <= 3600, costMicroseconds <= 1_000_000 else {
                throw ValidationError(
                    "the burst rate may be at most 100 M records/s, the schedule at most an hour, the cost at most 1 s per record")
            }
            guard recordBytes >= 16, keys > 0, partitions > 0, consumers > 0, groups > 0 else {
                throw ValidationError("--record-bytes must be at least 16; counts must be positive")
            }
        }

        func run() throws {
            var scenario = PeakScenario()
            scenario.baseRate = baseRate
            scenario.burstMultiple = burstMultiple
            scenario.shape = PeakScenario.Shape(rawValue: shape) ?? .step
            scenario.warmupSeconds = warmup
            scenario.burstSeconds = burst
            scenario.cooldownSeconds = cooldown
            scenario.recordBytes = recordBytes
            scenario.keys = keys
            scenario.partitions = partitions
            scenario.durable = acks == "durable"
            scenario.compression = compression
            scenario.consumers = consumers
            scenario.costMicroseconds = costMicroseconds
            scenario.model = PeakScenario.Model(rawValue: model) ?? .group
            scenario.groups = groups
            let path = store.directory("peak")
            defer { store.finish(path) }
            try? FileManager.default.removeItem(atPath: path)
            let interactive = isatty(STDERR_FILENO) == 1 && !json
            FileHandle.standardError.write(Data("peak scenario: \(scenario.summary)\n".utf8))
            let benchmark = PeakBenchmark(scenario: scenario, directory: path, progress: interactive)
            var runs = [try benchmark.runBuffered()]
            if !skipBaseline { runs.append(try benchmark.runBaseline()) }
            let result = PeakReport(scenario: scenario, runs: runs)
            try result.write(to: report)
            if json {
                print(result.json())
            } else {
                print(result.table)
                print("\nreport: \(report)/index.html (chart: \(report)/chart.svg)")
            }
            guard runs.allSatisfy(\.checksumsMatch) else {
                throw CLIFailure("records were lost or delivered twice: produced \(runs.map(\.produced)), consumed \(runs.map(\.consumed))")
            }
        }
    }

    struct Produce: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Producer throughput: records/s, MB/s, append latency.")
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
        static let configuration = CommandConfiguration(abstract: "Consumer throughput of a group member over a topic it fills first.")
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
