import Foundation
import Testing
@testable import Reservoir

/// The sparse offset index: relative offsets, positions, lookups and sanity checks.
@Suite("Offset index")
struct OffsetIndexTests {
    @Test("lookups return the last entry at or below the target, or the segment start")
    func lookups() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let index = try OffsetIndex(path: dir + "/100.index", baseOffset: 100, maxBytes: 1024, writable: true)
        #expect(index.lookup(150) == .init(offset: 100, position: 0))
        try index.append(offset: 110, position: 4096)
        try index.append(offset: 130, position: 8192)
        #expect(index.lookup(99) == .init(offset: 100, position: 0))
        #expect(index.lookup(110) == .init(offset: 110, position: 4096))
        #expect(index.lookup(129) == .init(offset: 110, position: 4096))
        #expect(index.lookup(1_000_000) == .init(offset: 130, position: 8192))
        // Past the 32-bit relative range: the last entry, never a wrapped one.
        #expect(index.lookup(100 + Int64(UInt32.max) + 5) == .init(offset: 130, position: 8192))
        #expect(index.sanityCheck(logSize: 9000) == nil)
        #expect(index.sanityCheck(logSize: 8192) == "entry 1 points past the log end")
        // Bytes on disk: relative offset and position, big-endian.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/100.index")).prefix(16))
        #expect(bytes == [0, 0, 0, 10, 0, 0, 16, 0, 0, 0, 0, 30, 0, 0, 32, 0])
    }

    @Test("entries that do not increase fail the sanity check")
    func notIncreasing() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let index = try OffsetIndex(path: dir + "/0.index", baseOffset: 0, maxBytes: 1024, writable: true)
        try index.append(offset: 20, position: 100)
        try index.append(offset: 10, position: 200)
        #expect(index.sanityCheck(logSize: 1000) == "entry 1 is not increasing")
    }
}
