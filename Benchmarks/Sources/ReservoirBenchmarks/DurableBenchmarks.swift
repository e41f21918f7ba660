import Foundation
import Reservoir
import Synchronization

/// Durable appends (fsync before the acknowledgement) against a raw write+fdatasync loop, and
/// group commit with concurrent producers.
enum DurableBenchmarks {
    static func run() throws {
        print("## Durable appends, 100-record batches of 100-byte values\n")
        let records = Harness.records(count: 100, valueSize: 100)
        let batches = 2000
        var ours: [Double] = []
        var raw: [Double] = []
        var batchBytes: [UInt8] = []
        for _ in 0..<Harness.rounds {
            let dir = Harness.freshDirectory("durable")
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t", config: TopicConfig(preallocateBytes: Harness.preallocate))
            let start = Harness.now()
            for _ in 0..<batches { try store.append(to: "t", records: records, partition: 0, acks: .durable) }
            ours.append(Double(batches * 100) / (Harness.now() - start))
            if batchBytes.isEmpty {
                batchBytes = Array(
                    try Data(contentsOf: URL(fileURLWithPath: dir + "/topics/t/0/00000000000000000000.log")).prefix(while: { _ in true }))
                let first = try SegmentFileInspector.batches(inLogFile: dir + "/topics/t/0/00000000000000000000.log")[0]
                batchBytes = Array(batchBytes.prefix(first.header!.totalSize))
            }
            try store.close()
            try? FileManager.default.removeItem(atPath: dir)
            raw.append(Double(batches * 100) / rawWriteSync(batchBytes, batches: batches))
        }
        let rate = Harness.median(ours)
        let rawRate = Harness.median(raw)
        print("| what | records/s | batches/s |")
        print("|---|---|---|")
        print("| Reservoir, one producer, `acks: .durable` | \(Harness.format(rate)) | \(Harness.format(rate / 100)) |")
        print(
            "| raw `write` + `fdatasync` loop, same bytes, growing file | \(Harness.format(rawRate)) | \(Harness.format(rawRate / 100)) |")
        print("| ratio | \(String(format: "%.0f%%", 100 * rate / rawRate)) | |")
        for producers in [1, 4, 16] {
            var rates: [Double] = []
            for _ in 0..<3 { rates.append(try groupCommit(producers: producers, records: records)) }
            print(
                "| group commit, \(producers) concurrent producer\(producers == 1 ? "" : "s") | \(Harness.format(Harness.median(rates))) | \(Harness.format(Harness.median(rates) / 100)) |"
            )
        }
        print("")
    }

    static func rawWriteSync(_ batch: [UInt8], batches: Int) -> Double {
        let path = Harness.scratch + "/raw-sync.log"
        unlink(path)
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        let start = Harness.now()
        batch.withUnsafeBytes { buffer in
            for _ in 0..<batches {
                _ = write(fd, buffer.baseAddress, buffer.count)
                fdatasync(fd)
            }
        }
        let elapsed = Harness.now() - start
        close(fd)
        unlink(path)
        return elapsed
    }

    /// Records/s with `producers` threads appending durable batches for about a second.
    static func groupCommit(producers: Int, records: [Record]) throws -> Double {
        let dir = Harness.freshDirectory("group")
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(preallocateBytes: Harness.preallocate))
        let appended = Atomic<Int>(0)
        let deadline = Harness.now() + 1.0
        let start = Harness.now()
        // One OS thread per producer: each blocks in its durable append, as a server thread would.
        let done = DispatchGroup()
        for _ in 0..<producers {
            done.enter()
            Thread {
                while Harness.now() < deadline {
                    guard (try? store.append(to: "t", records: records, partition: 0, acks: .durable)) != nil else { break }
                    appended.wrappingAdd(records.count, ordering: .relaxed)
                }
                done.leave()
            }.start()
        }
        done.wait()
        let elapsed = Harness.now() - start
        try store.close()
        try? FileManager.default.removeItem(atPath: dir)
        return Double(appended.load(ordering: .relaxed)) / elapsed
    }
}
