import Foundation
import Reservoir
import Synchronization

/// Compaction throughput (dirty bytes cleaned per second, 1 M records over 10 K keys) and the
/// append rate while the cleaner runs, against appends alone in the same run.
enum CompactionBenchmarks {
    static let recordCount = 1_000_000
    static let keys = 10_000

    static func run() throws {
        print("## Compaction: 1 M records of 100-byte values over 10 K keys, 16 MiB segments\n")
        let batch = Harness.records(count: 1000, valueSize: 100)
        var cleanRates: [Double] = []
        var cleanedBytes = 0
        var removed = 0
        var alone: [Double] = []
        var during: [Double] = []
        for _ in 0..<Harness.rounds {
            // The cleaner alone.
            do {
                let dir = Harness.freshDirectory("compaction-alone")
                try fill(dir, batch: batch)
                let store = try Reservoir.open(at: dir, options: Reservoir.Options(maintenanceIntervalMilliseconds: 0))
                let report = try store.maintain(topic: "compacted", ignoringDirtyRatio: true)
                let entry = try report.partitions.first ?? { throw BenchmarkError("compaction did not run") }()
                cleanRates.append(Double(entry.dirtyBytesCleaned) / entry.cleanerSeconds)
                cleanedBytes = entry.dirtyBytesCleaned
                removed = entry.recordsCompacted
                try store.close()
                try? FileManager.default.removeItem(atPath: dir)
            }
            let dir = Harness.freshDirectory("compaction")
            try fill(dir, batch: batch)
            let store = try Reservoir.open(at: dir, options: Reservoir.Options(maintenanceIntervalMilliseconds: 0))
            try store.createTopic("appends", config: TopicConfig())

            // Appends alone, for about as long as a clean takes.
            alone.append(try appendRate(store, batch: batch, seconds: 0.6) { false })

            // The clean, with appends to another topic running the whole time.
            let done = Atomic<Bool>(false)
            let result = Mutex<MaintenanceReport?>(nil)
            let cleaner = Thread {
                result.withLock { $0 = try? store.maintain(topic: "compacted", ignoringDirtyRatio: true) }
                done.store(true, ordering: .releasing)
            }
            cleaner.start()
            during.append(try appendRate(store, batch: batch, seconds: nil) { done.load(ordering: .acquiring) })
            guard result.withLock({ $0 })?.partitions.first?.compacted == true else { throw BenchmarkError("compaction did not run") }
            try store.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let cleanRate = Harness.median(cleanRates)
        print("| what | figure |")
        print("|---|---|")
        print(
            "| dirty log cleaned, cleaner alone | \(String(format: "%.0f MB/s", cleanRate / 1e6)) (\(cleanedBytes >> 20) MiB, \(removed) records removed) |"
        )
        let aloneRate = Harness.median(alone)
        let duringRate = Harness.median(during)
        print("| appends alone, 1000-record batches, buffered | \(Harness.format(aloneRate)) records/s |")
        print("| appends while the cleaner runs | \(Harness.format(duringRate)) records/s |")
        print("| ratio | \(String(format: "%.0f%%", 100 * duringRate / aloneRate)) |")
        print("")
    }

    /// A compacted topic of 1 M records over 10 K keys, closed so that every rolled segment is durable.
    private static func fill(_ dir: String, batch: [Record]) throws {
        let store = try Reservoir.open(at: dir, options: Reservoir.Options(maintenanceIntervalMilliseconds: 0))
        try store.createTopic("compacted", config: TopicConfig(segmentBytes: 16 << 20, cleanup: .compact))
        var records = batch
        for start in stride(from: 0, to: recordCount, by: batch.count) {
            for index in records.indices {
                records[index].key = Array("key-\((start + index) % keys)".utf8)
            }
            try store.append(to: "compacted", records: records, partition: 0, acks: .buffered)
        }
        try store.close()
    }

    /// Appends 1000-record batches for `seconds`, or until `stop` says so; returns records/s.
    private static func appendRate(_ store: Reservoir, batch: [Record], seconds: Double?, stop: () -> Bool) throws -> Double {
        let start = Harness.now()
        var appended = 0
        while true {
            try store.append(to: "appends", records: batch, partition: 0, acks: .buffered)
            appended += batch.count
            let elapsed = Harness.now() - start
            if let seconds, elapsed >= seconds { return Double(appended) / elapsed }
            if seconds == nil && stop() { return Double(appended) / elapsed }
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
