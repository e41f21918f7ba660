import BenchCLoop
import Foundation
import Reservoir

/// Where an append's time goes: encoding alone, CRC alone, against the whole append.
enum PartsBenchmarks {
    static func run() throws {
        print("## Parts of an append (100-byte values, 1000-record batches, uncompressed)\n")
        let records = Harness.records(count: 1000, valueSize: 100)
        let batches = 2000
        if ProcessInfo.processInfo.environment["PROFILE_ENCODE"] == "1" {
            let encoder = try RecordBatchEncoder()
            for _ in 0..<10_000 { _ = try encoder.encode(records, defaultTimestamp: 0) }
            return
        }
        if ProcessInfo.processInfo.environment["PROFILE_BUILDER"] == "1" {
            let builder = try RecordBatchBuilder()
            let blob = AppendBenchmarks.Blob(records)
            for _ in 0..<20_000 {
                builder.reset()
                _ = try blob.fill(builder, count: records.count, from: 0, timestampBase: 0)
            }
            return
        }
        let encoder = try RecordBatchEncoder()
        var encodeRates: [Double] = []
        var crcRates: [Double] = []
        var bytes = 0
        for _ in 0..<Harness.rounds {
            let start = Harness.now()
            for _ in 0..<batches { bytes = try encoder.encode(records, defaultTimestamp: 0).byteCount }
            encodeRates.append(Double(batches * 1000) / (Harness.now() - start))
            let crcStart = Harness.now()
            var sink: UInt32 = 0
            for _ in 0..<batches { sink &+= encoder.withEncodedBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) } }
            crcRates.append(Double(batches * 1000) / (Harness.now() - crcStart))
            precondition(sink != 1)
        }
        let cLoop = try CLoopBaseline(records, checkingAgainst: encoder)
        var cRates: [Double] = []
        var swiftRates: [Double] = []
        for _ in 0..<Harness.rounds {
            cRates.append(Double(batches * 1000) / cLoop.time(batches: batches))
            let start = Harness.now()
            for _ in 0..<batches { bytes = try encoder.encode(records, defaultTimestamp: 0).byteCount }
            swiftRates.append(Double(batches * 1000) / (Harness.now() - start))
        }
        let cRate = Harness.median(cRates)
        let swiftRate = Harness.median(swiftRates)
        print("| part | records/s | ns/record |")
        print("|---|---|---|")
        for (name, rate) in [
            ("encode (sizes, varints, copies, CRC)", Harness.median(encodeRates)), ("CRC32C alone", Harness.median(crcRates)),
            ("C loop writing the same bytes (layout, header) + the same CRC32C", cRate),
            ("encode, alternating with the C loop", swiftRate),
        ] {
            print("| \(name) | \(Harness.format(rate)) | \(String(format: "%.1f", 1e9 / rate)) |")
        }
        // The same encoding over 100 000 distinct records (as the append benchmark uses), whose
        // keys and values are scattered over the heap rather than hot in the cache.
        let many = Harness.records(count: 100_000, valueSize: 100)
        let manyBatches = stride(from: 0, to: many.count, by: 1000).map { Array(many[$0..<($0 + 1000)]) }
        var coldRates: [Double] = []
        for _ in 0..<Harness.rounds {
            let start = Harness.now()
            for _ in 0..<20 { for batch in manyBatches { bytes = try encoder.encode(batch, defaultTimestamp: 0).byteCount } }
            coldRates.append(Double(20 * many.count) / (Harness.now() - start))
        }
        let builder = try RecordBatchBuilder()
        let blob = AppendBenchmarks.Blob(records)
        // `copyingOut`: with the header, CRC and a copy of each batch out; without, the
        // builder's own work per record.
        func builderRate(copyingOut: Bool) throws -> Double {
            var rates: [Double] = []
            for _ in 0..<Harness.rounds {
                let start = Harness.now()
                for _ in 0..<batches {
                    builder.reset()
                    _ = try blob.fill(builder, count: records.count, from: 0, timestampBase: 0)
                    if copyingOut { bytes = try builder.encodedBytes().count }
                }
                rates.append(Double(batches * 1000) / (Harness.now() - start))
            }
            return Harness.median(rates)
        }
        let built = try builderRate(copyingOut: true)
        let appendsAlone = try builderRate(copyingOut: false)
        print(
            "| RecordBatchBuilder appends alone (no header, CRC or copy) | \(Harness.format(appendsAlone)) | \(String(format: "%.1f", 1e9 / appendsAlone)) |"
        )
        print(
            "| RecordBatchBuilder from one contiguous buffer (includes a copy of each batch out) | \(Harness.format(built)) | \(String(format: "%.1f", 1e9 / built)) |"
        )
        let cold = Harness.median(coldRates)
        print("| encode, 100 000 distinct records | \(Harness.format(cold)) | \(String(format: "%.1f", 1e9 / cold)) |")
        print("| batch size | \(bytes) bytes | |\n")
        print(String(format: "encode takes %.2f× the C loop's time per record (bar: at most 1.5×)\n", cRate / swiftRate))
    }
}

/// The baseline for encoding: a C loop (`BenchCLoop`) laying out the same records into the same
/// bytes, from the records as a C program holds them (pointers and lengths into one block), with
/// the same CRC32C. Checked byte for byte against the encoder before it is timed.
final class CLoopBaseline {
    private let block: UnsafeMutableRawPointer
    private let cRecords: UnsafeMutablePointer<bench_record>
    private let count: Int
    private let out: UnsafeMutableRawPointer

    init(_ records: [Record], checkingAgainst encoder: RecordBatchEncoder) throws {
        count = records.count
        let total = records.reduce(0) { $0 + ($1.key?.count ?? 0) + ($1.value?.count ?? 0) }
        block = .allocate(byteCount: max(total, 1), alignment: 64)
        cRecords = .allocate(capacity: records.count)
        out = .allocate(byteCount: total + 64 * records.count + 4096, alignment: 64)
        var position = 0
        func place(_ bytes: [UInt8]?) -> (UnsafePointer<UInt8>?, Int32) {
            guard let bytes else { return (nil, -1) }
            let start = block + position
            bytes.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            position += bytes.count
            return (UnsafePointer(start.assumingMemoryBound(to: UInt8.self)), Int32(bytes.count))
        }
        for (index, record) in records.enumerated() {
            let key = place(record.key)
            let value = place(record.value)
            cRecords[index] = bench_record(
                key: key.0, value: value.0, key_length: key.1, value_length: value.1, timestamp: record.timestamp ?? 0)
        }
        let size = layoutOne()
        let expected = try encoder.encodedBytes(records, defaultTimestamp: 0)
        let produced = Array(UnsafeRawBufferPointer(start: out, count: size))
        precondition(produced == expected, "the C loop must write the encoder's bytes")
    }

    deinit {
        block.deallocate()
        cRecords.deallocate()
        out.deallocate()
    }

    @inline(never)
    private func layoutOne() -> Int {
        let size = bench_layout_batch(cRecords, count, out.assumingMemoryBound(to: UInt8.self))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: out + 21, count: size - 21))
        out.storeBytes(of: crc.bigEndian, toByteOffset: 17, as: UInt32.self)
        return size
    }

    /// Seconds for `batches` batches.
    func time(batches: Int) -> Double {
        let start = Harness.now()
        var sink = 0
        for _ in 0..<batches { sink &+= layoutOne() }
        precondition(sink != 1)
        return Harness.now() - start
    }
}
