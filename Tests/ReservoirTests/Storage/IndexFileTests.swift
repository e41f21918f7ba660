import Foundation
import Testing
@testable import Reservoir

/// The mapped file of fixed-size entries under both indexes.
@Suite("Index files")
struct IndexFileTests {
    @Test("a writable index is preallocated; entries are published, searched, trimmed, reopened by length")
    func appendSearchTrim() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/0.index"
        do {
            let file = try IndexFile(path: path, entrySize: 8, maxBytes: 64, writable: true)
            #expect(file.maxEntries == 8 && file.entryCount == 0)
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 64)
            for key in [10, 20, 30] as [UInt64] { try file.append { $0.storeBytes(of: key.bigEndian, as: UInt64.self) } }
            let key: (UnsafeRawPointer) -> UInt64 = { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
            #expect(file.lastEntry(atOrBelow: 9, key: key) == nil)
            #expect(file.lastEntry(atOrBelow: 10, key: key) == 0)
            #expect(file.lastEntry(atOrBelow: 29, key: key) == 1)
            #expect(file.lastEntry(atOrBelow: 1000, key: key) == 2)
            file.truncate(toEntries: 2)
            #expect(file.entryCount == 2)
            try file.trim()
        }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 16)
        let reopened = try IndexFile(path: path, entrySize: 8, maxBytes: 64, writable: false)
        #expect(reopened.entryCount == 2 && !reopened.hadPartialEntry && reopened.isFull)
    }

    @Test("a torn file (not a whole number of entries) is noticed; its whole entries still count")
    func tornFile() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/0.index"
        try Data(repeating: 1, count: 20).write(to: URL(fileURLWithPath: path))
        let file = try IndexFile(path: path, entrySize: 8, maxBytes: 64, writable: false)
        #expect(file.hadPartialEntry && file.entryCount == 2)
    }
}
