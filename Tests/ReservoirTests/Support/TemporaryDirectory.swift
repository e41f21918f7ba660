import Foundation
@testable import Reservoir

/// A fresh directory under the system temp folder, unique per test (tests run in parallel).
func temporaryDirectory(_ label: String = #function) -> String {
    let name = label.filter { $0.isLetter || $0.isNumber }.prefix(40)
    let path = NSTemporaryDirectory() + "reservoir-tests/\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func records(_ range: Range<Int>, size: Int = 20, keyed: Bool = true, timestamp: ((Int) -> Int64)? = nil) -> [Record] {
    range.map { i in
        let value = Array("value-\(i)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: max(0, size - 10))
        return Record(
            key: keyed ? Array("key-\(i)".utf8) : nil, value: value,
            headers: i % 7 == 0 ? [RecordHeader("h", "\(i)")] : [], timestamp: timestamp?(i))
    }
}

/// A random number generator that a printed seed reproduces (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every record of a partition (below `limit` when given), read segment by segment in 64 KiB steps.
func allRecords(_ log: PartitionLog, upTo limit: Int64? = nil) throws -> [LogRecord] {
    var all: [LogRecord] = []
    var offset = log.startOffset
    while offset < (limit ?? log.endOffset) {
        let result = try log.read(from: offset, maxBytes: 64 * 1024)
        all += try result.records()
        offset = result.nextOffset
    }
    return all
}
