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
        print("| part | records/s | ns/record |")
        print("|---|---|---|")
        for (name, rate) in [
            ("encode (sizes, varints, copies, CRC)", Harness.median(encodeRates)), ("CRC32C alone", Harness.median(crcRates)),
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
    }
}
