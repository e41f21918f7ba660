import Foundation
import Testing
@testable import Reservoir

/// The time index: timestamps to offsets, increasing only, one slot kept for the final entry.
@Suite("Time index")
struct TimeIndexTests {
    @Test("only larger timestamps are added; lookups find the last entry at or below; the last slot is reserved")
    func appendAndLookup() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let index = try TimeIndex(path: dir + "/50.timeindex", baseOffset: 50, maxBytes: 4 * TimeIndex.entrySize, writable: true)
        #expect(index.lookup(1_000) == .init(timestamp: -1, offset: 50))
        try index.append(timestamp: 1_000, offset: 55)
        try index.append(timestamp: 999, offset: 60)  // not larger: ignored
        try index.append(timestamp: 2_000, offset: 70)
        #expect(index.entryCount == 2)
        #expect(index.lookup(1_500) == .init(timestamp: 1_000, offset: 55))
        #expect(index.lookup(2_000) == .init(timestamp: 2_000, offset: 70))
        try index.append(timestamp: 3_000, offset: 80)
        #expect(index.isFull)
        try index.append(timestamp: 4_000, offset: 90)  // the reserved slot needs `force`
        #expect(index.entryCount == 3)
        try index.append(timestamp: 4_000, offset: 90, force: true)
        #expect(index.entryCount == 4 && index.lastEntry == .init(timestamp: 4_000, offset: 90))
        #expect(index.sanityCheck(lastOffset: 90) == nil)
        #expect(index.sanityCheck(lastOffset: 85) == "entry 3 points past the last offset")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/50.timeindex")).prefix(12))
        #expect(bytes == [0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5])
    }
}
