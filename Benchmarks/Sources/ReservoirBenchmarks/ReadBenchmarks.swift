import Foundation
import Reservoir

/// Sequential reads of a whole log from the page cache, and random reads by offset.
enum ReadBenchmarks {
    static func run() throws {
        print("## Reads, 100-byte values in 1000-record batches, from the page cache\n")
        let dir = Harness.freshDirectory("read")
        let records = Harness.records(count: 1000, valueSize: 100)
        let count = 4_000_000
        print(
            "| codec | sequential records/s | GB/s of log | raw read() of the same files, records/s | ratio | batch by batch, records/s | random read p50 | p99 |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for codec in [CompressionCodec.none, .lz4] {
            let store = try Reservoir.open(at: dir)
            let topic = "t-\(codec)"
            try store.createTopic(topic, config: TopicConfig(compression: codec))
            for _ in 0..<(count / 1000) { try store.append(to: topic, records: records, partition: 0, acks: .buffered) }
            let log = try store.log(topic: topic, partition: 0)
            let bytes = Double(log.sizeInBytes)
            var rates: [Double] = []
            var rawRates: [Double] = []
            var batchRates: [Double] = []
            let decoder = RecordDecoder()  // for the random reads
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/topics/\(topic)/0")
                .filter { $0.hasSuffix(".log") }.sorted().map { "\(dir)/topics/\(topic)/0/\($0)" }
            for _ in 0..<Harness.rounds {
                rawRates.append(Double(count) / rawRead(files))
                var tally = ValueByteTally()
                let elapsed = try Harness.readSequentially(log, into: &tally)
                precondition(tally.records == count && tally.valueBytes == count * 100)
                rates.append(Double(count) / elapsed)
                batchRates.append(Double(count) / (try readBatchByBatch(log, expecting: count)))
            }
            var latencies: [Double] = []
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<20_000 {
                let target = Int64.random(in: 0..<Int64(count), using: &generator)
                let start = Harness.now()
                let result = try log.read(from: target, maxBytes: 1)
                var found = false
                try decoder.forEachRecord(in: result.batches[0]) { record in
                    if record.offset == target { found = true }
                }
                latencies.append(Harness.now() - start)
                precondition(found)
            }
            let rate = Harness.median(rates)
            let rawRate = Harness.median(rawRates)
            print(
                "| \(codec) | \(Harness.format(rate)) | \(String(format: "%.2f", rate * bytes / Double(count) / 1e9)) | \(Harness.format(rawRate)) | \(String(format: "%.0f%%", 100 * rate / rawRate)) | \(Harness.format(Harness.median(batchRates))) | \(String(format: "%.1f µs", Harness.percentile(latencies, 0.5) * 1e6)) | \(String(format: "%.1f µs", Harness.percentile(latencies, 0.99) * 1e6)) |"
            )
            try store.close()
        }
        try? FileManager.default.removeItem(atPath: dir)
        print("")
    }

    /// Seconds to read `log` through `forEachRecord` one batch at a time, each batch's CRC checked
    /// as it comes, rather than while the batch before is decoded: what checking ahead saves.
    static func readBatchByBatch(_ log: PartitionLog, expecting count: Int) throws -> Double {
        let decoder = RecordDecoder()
        var tally = ValueByteTally()
        var offset: Int64 = 0
        let start = Harness.now()
        while offset < log.endOffset {
            let result = try log.read(from: offset, maxBytes: 4 << 20)
            for batch in result.batches { try decoder.forEachRecord(in: batch) { record in tally.add(record) } }
            offset = result.nextOffset
        }
        let elapsed = Harness.now() - start
        precondition(tally.records == count && tally.valueBytes == count * 100)
        return elapsed
    }

    /// Seconds to `read()` the files whole from the page cache, 4 MiB at a time into one reused
    /// buffer: the baseline sequential reads are measured against.
    static func rawRead(_ files: [String]) -> Double {
        let size = 4 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        var total = 0
        let start = Harness.now()
        for path in files {
            let fd = open(path, O_RDONLY)
            precondition(fd >= 0)
            while true {
                let n = read(fd, buffer, size)
                precondition(n >= 0)
                if n == 0 { break }
                total &+= n
            }
            close(fd)
        }
        let elapsed = Harness.now() - start
        precondition(total > 0)
        return elapsed
    }
}

/// Opening a store after a crash: the recovery scan of a whole 1 GiB segment.
enum RecoveryBenchmarks {
    static func run() throws {
        print("## Recovery scan of an unclean 1 GiB log\n")
        let dir = Harness.freshDirectory("recovery")
        let records = Harness.records(count: 1000, valueSize: 100)
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t", config: TopicConfig(segmentBytes: Int(Int32.max)))
            while try store.log(topic: "t", partition: 0).sizeInBytes < 1 << 30 {
                try store.append(to: "t", records: records, partition: 0, acks: .buffered)
            }
            try store.close()
        }
        var rates: [Double] = []
        var size = 0
        for _ in 0..<Harness.rounds {
            // What a crash leaves: no clean-shutdown marker, no checkpoints, indexes to rebuild.
            for file in [".clean-shutdown", "recovery-point-offset-checkpoint", "log-start-offset-checkpoint"] {
                try? FileManager.default.removeItem(atPath: dir + "/" + file)
            }
            let start = Harness.now()
            let store = try Reservoir.open(at: dir)
            let elapsed = Harness.now() - start
            let log = try store.log(topic: "t", partition: 0)
            size = log.sizeInBytes
            precondition(log.openReport.recoveredSegments == 1)
            rates.append(Double(size) / elapsed)
            try store.close()
        }
        print("| log | scan MB/s (median) |")
        print("|---|---|")
        print(
            "| \(size >> 20) MiB, one segment, CRC of every batch, indexes rebuilt | \(String(format: "%.0f", Harness.median(rates) / 1e6)) |\n"
        )
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Resident memory while the log grows past several GiB.
enum MemoryBenchmarks {
    static func run() throws {
        print("## Resident memory while appending 4 GiB\n")
        let dir = Harness.freshDirectory("rss")
        let records = Harness.records(count: 1000, valueSize: 100)
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t")
        let log = try store.log(topic: "t", partition: 0)
        var samples: [(Int, Int)] = []
        var next = 0
        while log.sizeInBytes < 4 << 30 {
            try store.append(to: "t", records: records, partition: 0, acks: .buffered)
            if log.sizeInBytes >= next {
                samples.append((log.sizeInBytes >> 20, Harness.residentBytes() >> 20))
                next += 512 << 20
            }
        }
        samples.append((log.sizeInBytes >> 20, Harness.residentBytes() >> 20))
        try store.close()
        try? FileManager.default.removeItem(atPath: dir)
        print("| log MiB | RSS MiB |")
        print("|---|---|")
        for (logSize, rss) in samples { print("| \(logSize) | \(rss) |") }
        print("")
    }
}
