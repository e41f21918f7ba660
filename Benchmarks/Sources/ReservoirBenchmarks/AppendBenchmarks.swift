import BenchLZ4
import Foundation
import Reservoir

/// Buffered appends through the public API against `write()` of the same bytes and, for LZ4,
/// against liblz4 alone compressing the same records sections.
enum AppendBenchmarks {
    static func run() throws {
        print("## Append, buffered (public API `append(to:records:)`, one partition)\n")
        print(
            "| value | batch | codec | API | records | Reservoir records/s | MB/s | raw write() records/s | ratio | liblz4 alone records/s | ratio |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        // BENCH_QUICK=1: only the rows the bars name (100-byte values, 1000-record batches).
        let quick = ProcessInfo.processInfo.environment["BENCH_QUICK"] == "1"
        // BENCH_API=records|builder|producer and BENCH_CODEC=none|lz4 narrow the rows further (for profiling).
        let api = ProcessInfo.processInfo.environment["BENCH_API"] ?? "both"
        let codecs: [CompressionCodec] =
            switch ProcessInfo.processInfo.environment["BENCH_CODEC"] {
            case "none": [.none]
            case "lz4": [.lz4]
            default: [.none, .lz4]
            }
        for valueSize in quick ? [100] : [100, 1024] {
            for batchSize in quick ? [1000] : [1, 100, 1000] {
                for codec in codecs {
                    if api == "both" || api == "records" {
                        try scenario(valueSize: valueSize, batchSize: batchSize, codec: codec, api: .records)
                    }
                    if batchSize > 1, api == "both" || api == "builder" {
                        try scenario(valueSize: valueSize, batchSize: batchSize, codec: codec, api: .builder)
                    }
                    if batchSize > 1, api == "both" || api == "producer" {
                        try scenario(valueSize: valueSize, batchSize: batchSize, codec: codec, api: .producer)
                    }
                }
            }
        }
        print("")
    }

    /// The public API an append scenario goes through.
    enum API: String {
        /// `append(to:records:)` with `[Record]`.
        case records = "[Record]"
        /// ``RecordBatchBuilder`` filled from one contiguous buffer (as from a network read), then
        /// `append(to:batch:)`: encoding and writing one after the other on this thread.
        case builder
        /// The same builder handed to a ``BatchProducer``, whose thread compresses and writes while
        /// this one fills the next batch; the time includes the final `flush()`.
        case producer
    }

    static func scenario(valueSize: Int, batchSize: Int, codec: CompressionCodec, api: API) throws {
        let builder = api != .records
        let count = batchSize == 1 ? 200_000 : (valueSize == 100 ? 2_000_000 : 400_000)
        let records = Harness.records(count: min(count, 100_000), valueSize: valueSize)
        let batches = stride(from: 0, to: count, by: batchSize).map { start -> ArraySlice<Record> in
            let base = start % records.count
            return records[base..<min(base + batchSize, records.count)]
        }.map(Array.init)
        var logBytes: [UInt8] = []
        var batchEnds: [Int] = []
        var ours: [Double] = []
        var raw: [Double] = []
        var lz4: [Double] = []
        let sections = codec == .lz4 ? try uncompressedSections(batches) : []
        let blob = builder ? Blob(records) : nil
        for round in 0..<Harness.rounds {
            let dir = Harness.freshDirectory("append")
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t", config: TopicConfig(compression: codec, preallocateBytes: Harness.preallocate))
            let elapsed: Double
            if builder {
                elapsed = try appendThroughBuilder(store, blob: blob, batchSize: batchSize, count: count, pipelined: api == .producer)
            } else {
                let start = Harness.now()
                for batch in batches { try store.append(to: "t", records: batch, partition: 0, acks: .buffered) }
                elapsed = Harness.now() - start
            }
            ours.append(Double(count) / elapsed)
            if round == 0 {
                let log = try store.log(topic: "t", partition: 0)
                logBytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/topics/t/0/00000000000000000000.log")))
                batchEnds = try SegmentFileInspector.batches(inLogFile: dir + "/topics/t/0/00000000000000000000.log")
                    .map { $0.position + ($0.header?.totalSize ?? 0) }
                precondition(log.endOffset == Int64(count))
            }
            try store.close()
            try? FileManager.default.removeItem(atPath: dir)
            raw.append(Double(count) / rawWrite(logBytes, ends: batchEnds))
            if codec == .lz4 { lz4.append(Double(count) / compressAlone(sections)) }
        }
        let rate = Harness.median(ours)
        let megabytes = rate * Double(logBytes.count) / Double(count) / 1e6
        let rawRate = Harness.median(raw)
        var row =
            "| \(valueSize) B | \(batchSize) | \(codec) | \(api.rawValue) | \(count) | \(Harness.format(rate)) | \(String(format: "%.0f", megabytes)) | \(Harness.format(rawRate)) | \(String(format: "%.0f%%", 100 * rate / rawRate))"
        if codec == .lz4 {
            let alone = Harness.median(lz4)
            row += " | \(Harness.format(alone)) | \(String(format: "%.0f%%", 100 * rate / alone)) |"
        } else {
            row += " | | |"
        }
        print(row)
    }

    /// Keys and values laid out back to back in one buffer (as after a network read), with a
    /// view of each, so that the loops feeding a builder cost what a caller's own would: a load
    /// of two views per record, no slicing, no modulo, no reference counting.
    final class Blob {
        private let storage: UnsafeMutableRawBufferPointer
        let keys: [UnsafeRawBufferPointer]
        let values: [UnsafeRawBufferPointer]
        init(_ records: [Record]) {
            let total = records.reduce(0) { $0 + ($1.key?.count ?? 0) + ($1.value?.count ?? 0) }
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 16)
            self.storage = storage
            var keys: [UnsafeRawBufferPointer] = []
            var values: [UnsafeRawBufferPointer] = []
            var position = 0
            func place(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
                let view = UnsafeMutableRawBufferPointer(rebasing: storage[position..<(position + bytes.count)])
                view.copyBytes(from: bytes)
                position += bytes.count
                return UnsafeRawBufferPointer(view)
            }
            for record in records {
                keys.append(place(record.key ?? []))
                values.append(place(record.value ?? []))
            }
            self.keys = keys
            self.values = values
        }
        deinit { storage.deallocate() }

        /// Appends `count` records to `builder`, cycling through the blob from `slot`; returns the next slot.
        func fill(_ builder: RecordBatchBuilder, count: Int, from slot: Int, timestampBase: Int64) throws -> Int {
            try keys.withUnsafeBufferPointer { keys in
                try values.withUnsafeBufferPointer { values in
                    var slot = slot
                    for _ in 0..<count {
                        try builder.append(key: keys[slot], value: values[slot], timestamp: timestampBase + Int64(slot))
                        slot += 1
                        if slot == keys.count { slot = 0 }
                    }
                    return slot
                }
            }
        }
    }

    /// Seconds to append `count` records through one reused builder, in batches of `batchSize`,
    /// with `append(to:batch:)` or (`pipelined`) a ``BatchProducer`` until its `flush()` returns.
    static func appendThroughBuilder(_ store: Reservoir, blob: Blob?, batchSize: Int, count: Int, pipelined: Bool) throws -> Double {
        guard let blob else { return 0 }
        let builder = try store.makeBatchBuilder(for: "t")
        let producer = pipelined ? try store.makeProducer(for: "t", acks: .buffered) : nil
        let start = Harness.now()
        var appended = 0
        var slot = 0
        while appended < count {
            let size = min(batchSize, count - appended)
            slot = try blob.fill(builder, count: size, from: slot, timestampBase: 1_764_000_000_000)
            if let producer {
                try producer.send(builder, partition: 0)
            } else {
                try store.append(to: "t", batch: builder, partition: 0, acks: .buffered)
            }
            appended += size
        }
        try producer?.close()
        return Harness.now() - start
    }

    /// Seconds to `write()` the bytes batch by batch into a new, growing file.
    static func rawWrite(_ bytes: [UInt8], ends: [Int]) -> Double {
        let path = Harness.scratch + "/raw.log"
        unlink(path)
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        let start = Harness.now()
        bytes.withUnsafeBytes { buffer in
            var position = 0
            for end in ends {
                _ = write(fd, buffer.baseAddress! + position, end - position)
                position = end
            }
        }
        let elapsed = Harness.now() - start
        close(fd)
        unlink(path)
        return elapsed
    }

    /// The uncompressed records section of each batch.
    static func uncompressedSections(_ batches: [[Record]]) throws -> [[UInt8]] {
        let encoder = try RecordBatchEncoder(compression: .none)
        return try batches.map { Array(try encoder.encodedBytes($0, defaultTimestamp: 0).dropFirst(RecordBatchHeader.size)) }
    }

    /// Seconds for liblz4's frame API (Kafka's frame settings, reused context) to compress every section.
    static func compressAlone(_ sections: [[UInt8]]) -> Double {
        var context: OpaquePointer?
        LZ4F_createCompressionContext(&context, UInt32(LZ4F_VERSION))
        defer { LZ4F_freeCompressionContext(context) }
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.autoFlush = 1
        let capacity = LZ4F_compressFrameBound(sections.map(\.count).max() ?? 0, &preferences) + 64
        let output = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { output.deallocate() }
        var total = 0
        let start = Harness.now()
        for section in sections {
            section.withUnsafeBytes { source in
                var written = LZ4F_compressBegin(context, output, capacity, &preferences)
                written += LZ4F_compressUpdate(context, output + written, capacity - written, source.baseAddress, source.count, nil)
                written += LZ4F_compressEnd(context, output + written, capacity - written, nil)
                total &+= written
            }
        }
        let elapsed = Harness.now() - start
        precondition(total > 0)
        return elapsed
    }
}
