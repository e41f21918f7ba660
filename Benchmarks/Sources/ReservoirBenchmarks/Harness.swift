import Foundation
import Reservoir

/// Timing, medians and the scratch space the scenarios share.
enum Harness {
    static let rounds = Int(ProcessInfo.processInfo.environment["BENCH_ROUNDS"] ?? "") ?? 5
    /// `BENCH_PREALLOCATE=bytes` turns on preallocation for the topics the scenarios create.
    static let preallocate = Int(ProcessInfo.processInfo.environment["BENCH_PREALLOCATE"] ?? "") ?? 0
    static let scratch = NSTemporaryDirectory() + "reservoir-bench-\(getpid())"

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// Fills and drops page cache so that the memory the VM handed back is warm again (see DESIGN.md).
    static func warmUp() {
        let path = scratch + "/warm"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        var block = [UInt8](repeating: 7, count: 1 << 20)
        block.withUnsafeMutableBytes { buffer in
            for _ in 0..<2048 { _ = write(fd, buffer.baseAddress, buffer.count) }
        }
        close(fd)
        unlink(path)
    }

    /// Writes back the dirty pages earlier scenarios left, so that the kernel's background
    /// writeback of them does not compete with the next scenario (after `rss` that is 4 GiB).
    static func settle() {
        sync()
    }

    static func freshDirectory(_ name: String) -> String {
        let path = scratch + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// JSON-like values of `size` bytes, keyed by user, as an order service would write.
    static func records(count: Int, valueSize: Int) -> [Record] {
        (0..<count).map { i in
            var value = Array(
                "{\"order_id\":\(i),\"user\":\"u\(i % 9973)\",\"sku\":\"SKU-\(i % 7919)\",\"qty\":\(i % 5 + 1),\"status\":\"created\",\"pad\":\""
                    .utf8)
            var filler = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
            while value.count < valueSize - 2 {
                filler = filler &* 6364136223846793005 &+ 1442695040888963407
                value.append(UInt8(ascii: "a") + UInt8(truncatingIfNeeded: filler >> 59) % 26)
            }
            value += Array("\"}".utf8)
            return Record(
                key: Array("user-\(i % 9973)".utf8), value: Array(value.prefix(valueSize)), timestamp: 1_764_000_000_000 + Int64(i))
        }
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    static func format(_ value: Double) -> String {
        if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
        if value >= 1e3 { return String(format: "%.1f K", value / 1e3) }
        return String(format: "%.1f", value)
    }
}

/// What a sequential read does with each record: a type rather than a closure, so that the
/// read's loop is specialized for it and calls nothing per record, as a closure written in
/// place at `forEachRecord` would be.
protocol RecordTally {
    var records: Int { get }
    mutating func add(_ record: borrowing RecordView)
}

/// Counts the records and their value bytes.
struct ValueByteTally: RecordTally {
    var records = 0
    var valueBytes = 0
    @inline(__always)
    mutating func add(_ record: borrowing RecordView) {
        records &+= 1
        valueBytes &+= record.valueCount ?? 0
    }
}

/// Counts the records and reads the first byte of each value (as the peers' reads do).
struct FirstByteTally: RecordTally {
    var records = 0
    var touched = 0
    @inline(__always)
    mutating func add(_ record: borrowing RecordView) {
        records &+= 1
        touched &+= record.withValue { $0.map { $0.count &+ Int($0[0]) } ?? 0 }
    }
}

extension Harness {
    /// Reads `log` from its start to its end through `PartitionLog.read` (4 MiB at a time) and
    /// `RecordDecoder.forEachRecord` (over each read's batches), adding each record to `tally`; returns the seconds taken.
    static func readSequentially<Tally: RecordTally>(_ log: PartitionLog, into tally: inout Tally) throws -> Double {
        let decoder = RecordDecoder()
        var offset: Int64 = 0
        let start = now()
        while offset < log.endOffset {
            let result = try log.read(from: offset, maxBytes: 4 << 20)
            try decoder.forEachRecord(in: result.batches) { record in tally.add(record) }
            offset = result.nextOffset
        }
        return now() - start
    }
}
