import Dispatch
import Foundation
import Reservoir
import Synchronization

/// Runs the peak scenario through Reservoir and through the in-memory baseline.
struct PeakBenchmark {
    let scenario: PeakScenario
    let directory: String
    let progress: Bool
    /// Appends held to this many records/s (as on a slower machine), or nil.
    var throttle: Double?
    /// A record is late when its append completes more than this after its time.
    var lateAfterMilliseconds: Double = 10

    static let topic = "peak"

    /// Tells the run that `record` was consumed: its append time and key are the value's first
    /// 16 bytes, as the producer wrote them.
    static func consumed(_ record: ConsumerRecord, group: Int, by run: PeakRun) {
        let (time, key) = record.withValue { bytes -> (UInt64, Int) in
            guard let bytes, bytes.count >= 16 else { return (0, 0) }
            return (bytes.loadUnaligned(as: UInt64.self), Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        run.consumed(group: group, key: key, position: Int64(record.partition) << 48 | record.offset, appendedAt: time)
    }

    /// Through a Reservoir topic: the producer appends on its schedule, consumers drain it.
    /// Returns the run and the bytes of the topic's log at its end.
    func runBuffered() throws -> (PeakRun.Result, diskBytes: Int) {
        let store = try Reservoir.open(at: directory, options: Reservoir.Options(logger: quietLogger()))
        defer { store.closeOrExit() }
        try store.createTopic(Self.topic, config: Self.topicConfig(scenario))
        let run = PeakRun(kind: .buffered, scenario: scenario, lateAfterMilliseconds: lateAfterMilliseconds)
        let consumers = try startConsumers(store, run: run)

        let producerFailure = Mutex<(any Error)?>(nil)
        let produced = DispatchSemaphore(value: 0)
        let endOfProduction = Mutex<Double>(0)
        let acks: Acks = scenario.durable ? .durable : .buffered
        let throttle = self.throttle
        Thread.detachNewThread {
            do {
                let send = try Self.sender(
                    store: store, topic: Self.topic, scenario: scenario, acks: acks, throttle: throttle.map(AppendThrottle.init))
                try run.produce(batchLimit: 2000, send: send)
            } catch {
                producerFailure.withLock { $0 = error }
            }
            endOfProduction.withLock { $0 = run.elapsed }
            produced.signal()
        }
        let logs = try (0..<scenario.partitions).map { try store.log(topic: Self.topic, partition: $0) }
        let deadline = Mutex<Double?>(nil)
        let samples = run.sample(
            diskBytes: { logs.reduce(0) { $0 + $1.sizeInBytes } },
            inQueue: { 0 },
            bytesPerRecord: { Double(logs.reduce(0) { $0 + $1.sizeInBytes }) / Double(Swift.max(1, run.producedCount)) },
            until: {
                if run.drained { return true }
                if !run.isProducing {
                    let now = run.elapsed
                    let limit = deadline.withLock { deadline -> Double in
                        if deadline == nil { deadline = now + scenario.drainLimitSeconds }
                        return deadline ?? now
                    }
                    return now > limit
                }
                return false
            },
            progress: { showProgress("Reservoir", $0) })
        produced.wait()
        if let failure = producerFailure.withLock({ $0 }) { throw failure }
        for consumer in consumers { consumer.cancel() }
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        let result = run.result(
            samples: samples, productionEnded: endOfProduction.withLock { $0 },
            partitionEnds: logs.map { $0.endOffset })
        return (result, logs.reduce(0) { $0 + $1.sizeInBytes })
    }

    /// The benchmark topic's settings: the scenario's partitions and codec, 64 MiB segments,
    /// flushed every 100 ms (durable acknowledgements fsync at once).
    static func topicConfig(_ scenario: PeakScenario) -> TopicConfig {
        let codec = CompressionCodec.allCases.first { $0.description == scenario.compression } ?? .none
        return TopicConfig(
            partitions: scenario.partitions, compression: codec, segmentBytes: 64 << 20, flushPolicy: .everyMilliseconds(100))
    }

    /// The producer's append: one batch builder per partition, records placed by key; the append
    /// time and key index lead each value, for the consumers to read back. Returns each record's
    /// position (partition and offset folded into one number). Made and used on one thread.
    static func sender(store: Reservoir, topic: String, scenario: PeakScenario, acks: Acks, throttle throttler: AppendThrottle?) throws
        -> ([(key: Int, time: UInt64)]) throws -> [Int64]
    {
        let builders = try (0..<scenario.partitions).map { _ in try store.makeBatchBuilder(for: topic) }
        var value = [UInt8](repeating: UInt8(ascii: "x"), count: Swift.max(16, scenario.recordBytes))
        let keys = (0..<scenario.keys).map { Array("key-\($0)".utf8) }
        let partitionOfKey = keys.map { Partitioner.partition(forKey: $0, partitions: scenario.partitions) }
        var order: [(partition: Int, index: Int)] = []
        var firstOffsets = [Int64](repeating: 0, count: scenario.partitions)
        return { batch in
            order.removeAll(keepingCapacity: true)
            for record in batch {
                let partition = partitionOfKey[record.key]
                withUnsafeBytes(of: record.time) { value.replaceSubrange(0..<8, with: $0) }
                withUnsafeBytes(of: UInt64(record.key)) { value.replaceSubrange(8..<16, with: $0) }
                try builders[partition].append(key: keys[record.key], value: value)
                order.append((partition, builders[partition].count - 1))
            }
            for partition in 0..<scenario.partitions where !builders[partition].isEmpty {
                firstOffsets[partition] = try store.append(to: topic, batch: builders[partition], partition: partition, acks: acks)
                    .offsets.lowerBound
            }
            throttler?.appended(batch.count)
            return order.map { Int64($0.partition) << 48 | (firstOffsets[$0.partition] + Int64($0.index)) }
        }
    }

    /// Consumers: a group's members iterating records, or work-queue consumers acking batches.
    private func startConsumers(_ store: Reservoir, run: PeakRun) throws -> [Task<Void, Never>] {
        var tasks: [Task<Void, Never>] = []
        for group in 0..<scenario.groups {
            let name = "peak-\(group)"
            for _ in 0..<scenario.consumers {
                switch scenario.model {
                case .group:
                    let member = try store.consumer(group: name, topics: [Self.topic])
                    tasks.append(
                        Task {
                            var done = 0
                            do {
                                for try await record in member.records {
                                    Self.consumed(record, group: group, by: run)
                                    done += 1
                                    if done == scenario.consumerBatch {
                                        try await Task.sleep(nanoseconds: run.work(records: done))
                                        done = 0
                                    }
                                }
                            } catch {}
                            try? member.close()
                        })
                case .queue:
                    let queue = try store.queue(group: name, topic: Self.topic, options: QueueOptions(prefetch: scenario.consumerBatch))
                    tasks.append(
                        Task {
                            do {
                                while !Task.isCancelled {
                                    let deliveries = try await queue.take(max: scenario.consumerBatch)
                                    if deliveries.isEmpty { break }
                                    for delivery in deliveries { Self.consumed(delivery.record, group: group, by: run) }
                                    try await Task.sleep(nanoseconds: run.work(records: deliveries.count))
                                    try queue.ack(deliveries)
                                }
                            } catch {}
                        })
                }
            }
        }
        return tasks
    }

    /// The same schedule and consumers with no buffer: a bounded hand-off of 1000 records per group.
    func runBaseline() throws -> PeakRun.Result {
        let run = PeakRun(kind: .baseline, scenario: scenario, lateAfterMilliseconds: lateAfterMilliseconds)
        let handOffs = (0..<scenario.groups).map { _ in HandOff(capacity: 1000) }
        let finished = DispatchSemaphore(value: 0)
        for (group, handOff) in handOffs.enumerated() {
            for _ in 0..<scenario.consumers {
                Thread.detachNewThread {
                    while true {
                        let items = handOff.take(max: scenario.consumerBatch)
                        if items.isEmpty { break }
                        for item in items {
                            run.consumed(group: group, key: item.key, position: Int64(item.sequence), appendedAt: item.appendedAt)
                        }
                        usleep(useconds_t(run.work(records: items.count) / 1000))
                    }
                    finished.signal()
                }
            }
        }
        let endOfProduction = Mutex<Double>(0)
        let produced = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var sequence = 0
            try? run.produce(batchLimit: 2000) { batch in
                var positions: [Int64] = []
                positions.reserveCapacity(batch.count)
                for record in batch {
                    for handOff in handOffs {
                        handOff.put(HandOff.Item(sequence: sequence, key: record.key, appendedAt: record.time))
                    }
                    positions.append(Int64(sequence))
                    sequence += 1
                }
                return positions
            }
            endOfProduction.withLock { $0 = run.elapsed }
            for handOff in handOffs { handOff.close() }
            produced.signal()
        }
        let samples = run.sample(
            diskBytes: { 0 }, inQueue: { 0 }, bytesPerRecord: { Double(scenario.recordBytes) },
            until: { run.drained }, progress: { showProgress("baseline", $0) })
        produced.wait()
        for _ in 0..<(scenario.groups * scenario.consumers) { finished.wait() }
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        return run.result(samples: samples, productionEnded: endOfProduction.withLock { $0 }, partitionEnds: [])
    }

    private func showProgress(_ name: String, _ sample: PeakRun.Sample) {
        guard progress else { return }
        let egress = sample.egress.map { format($0) }.joined(separator: "/")
        let line = String(
            format: "\r%@ %5.1f s  target %@/s  in %@/s  out %@/s  backlog %@   ", name, sample.t,
            format(sample.target), format(sample.ingress), egress, format(Double(sample.backlog)))
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// 12.3K-style numbers.
func format(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fK", value / 1e3) }
    return String(format: "%.0f", value)
}
