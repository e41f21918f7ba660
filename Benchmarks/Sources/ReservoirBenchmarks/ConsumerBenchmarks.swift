import Dispatch
import Foundation
import Histogram
import Reservoir
import Synchronization

/// Consumer-group iteration (1 and 4 members), work-queue throughput (one ack per record and
/// batched acks), and the wake-up latency of a reader waiting at the end of a partition.
enum ConsumerBenchmarks {
    static let groupRecords = 2_000_000
    static let queueRecords = 400_000

    static func run() throws {
        print("## Consumers: 100-byte values\n")
        let dir = Harness.freshDirectory("consumers")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Reservoir.open(at: dir, options: Reservoir.Options(maintenanceIntervalMilliseconds: 0))
        defer { try? store.close() }
        try store.createTopic("events", config: TopicConfig(partitions: 4))
        let batch = Harness.records(count: 1000, valueSize: 100)
        for index in 0..<(groupRecords / 1000) {
            try store.append(to: "events", records: batch, partition: index % 4, acks: .buffered)
        }

        var one: [Double] = []
        var four: [Double] = []
        var perRecord: [Double] = []
        var batched: [Double] = []
        for round in 0..<Harness.rounds {
            one.append(try blocking { try await groupRate(store, group: "one-\(round)", members: 1) })
            four.append(try blocking { try await groupRate(store, group: "four-\(round)", members: 4) })
            perRecord.append(try blocking { try await queueRatePerRecord(store, group: "each-\(round)") })
            batched.append(try queueRateBatched(store, group: "batch-\(round)"))
        }
        print("| what | records/s |")
        print("|---|---|")
        print(
            "| consumer group, 1 member iterating `records` (4 partitions, \(groupRecords / 1_000_000) M records) | \(Harness.format(Harness.median(one))) |"
        )
        print("| consumer group, 4 members in 4 tasks | \(Harness.format(Harness.median(four))) |")
        print("| work queue, one consumer, `delivery.ack()` per record | \(Harness.format(Harness.median(perRecord))) |")
        print("| work queue, `poll(max: 500)` + `ack(batch)` | \(Harness.format(Harness.median(batched))) |")
        print("")
        try latency(store)
    }

    /// Runs async work from the synchronous harness.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    static func groupRate(_ store: Reservoir, group: String, members count: Int) async throws -> Double {
        let members = try (0..<count).map { _ in try store.consumer(group: group, topics: ["events"]) }
        let per = groupRecords / count
        let start = Harness.now()
        try await withThrowingTaskGroup(of: Int.self) { tasks in
            for member in members {
                tasks.addTask {
                    var seen = 0
                    var bytes = 0
                    for try await record in member.records {
                        bytes &+= record.valueCount ?? 0
                        seen += 1
                        if seen == per { break }
                    }
                    return bytes
                }
            }
            for try await _ in tasks {}
        }
        let rate = Double(groupRecords) / (Harness.now() - start)
        for member in members { try member.close() }
        return rate
    }

    static func queueRatePerRecord(_ store: Reservoir, group: String) async throws -> Double {
        let queue = try store.queue(group: group, topic: "events")
        let start = Harness.now()
        var done = 0
        for try await delivery in queue {
            try delivery.ack()
            done += 1
            if done == queueRecords { break }
        }
        return Double(done) / (Harness.now() - start)
    }

    static func queueRateBatched(_ store: Reservoir, group: String) throws -> Double {
        let queue = try store.queue(group: group, topic: "events")
        let start = Harness.now()
        var done = 0
        while done < queueRecords {
            let taken = try queue.poll(max: 500)
            try queue.ack(taken)
            done += taken.count
        }
        return Double(done) / (Harness.now() - start)
    }

    /// A reader waits at the end; single records are appended (buffered) one at a time, each
    /// carrying its append time; the reader records append-to-delivery time.
    static func latency(_ store: Reservoir) throws {
        try store.createTopic("latency")
        let samples = 20_000
        let reader = try store.reader(topic: "latency", partition: 0, from: .latest)
        // The reader runs as a task; the producer is this thread, off the cooperative pool.
        let box = ResultBox<Histogram<UInt64>>()
        let done = DispatchSemaphore(value: 0)
        let ready = DispatchSemaphore(value: 0)
        Task {
            do {
                var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
                var seen = 0
                var iterator = reader.makeAsyncIterator()
                ready.signal()
                while let record = try await iterator.next() {
                    let sent = record.withValue { $0.map { $0.loadUnaligned(as: UInt64.self) } } ?? 0
                    _ = histogram.record(Self.monotonic() - sent)
                    seen += 1
                    if seen == samples { break }
                }
                box.result = .success(histogram)
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        ready.wait()
        usleep(50_000)
        var value = [UInt8](repeating: 0, count: 100)
        for _ in 0..<samples {
            let now = Self.monotonic()
            withUnsafeBytes(of: now) { value.replaceSubrange(0..<8, with: $0) }
            try store.append(to: "latency", records: [Record(key: nil, value: value)], partition: 0, acks: .buffered)
            // One at a time, as a trickle of events: the reader is waiting when each arrives.
            let until = Self.monotonic() + 100_000
            while Self.monotonic() < until {}
        }
        done.wait()
        let histogram = try box.result!.get()
        func micro(_ ns: UInt64) -> String { String(format: "%.1f µs", Double(ns) / 1000) }
        print("## Wake-up latency of a waiting reader (append → delivery, \(samples) single buffered appends, 100 µs apart)\n")
        print("| p50 | p90 | p99 | p99.9 | max |")
        print("|---|---|---|---|---|")
        print(
            "| \(micro(histogram.valueAtPercentile(50))) | \(micro(histogram.valueAtPercentile(90))) | \(micro(histogram.valueAtPercentile(99))) | \(micro(histogram.valueAtPercentile(99.9))) | \(micro(histogram.max)) |"
        )
        print("")
    }

    static func monotonic() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

/// A result handed from a task to a thread waiting on a semaphore.
final class ResultBox<T>: @unchecked Sendable {
    // Written once by the task before it signals, read after the wait.
    var result: Result<T, any Error>?
}
