import Foundation
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// A read's batches as a range of their segment file, which the Kafka server sends with sendfile.
@Suite("Segment file ranges: a read's batches as bytes of their file")
struct SegmentFileRangeTests {
    /// The file bytes of `range`, read with pread through its own descriptor.
    static func fileBytes(_ range: consuming SegmentFileRange) -> [UInt8] {
        let (position, count) = (range.position, range.count)
        let descriptor = range.takeDescriptor()
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(position)) }
        return read == count ? bytes : []
    }

    static func opens(_ result: LogReadResult) -> Bool {
        guard let range = result.openSegmentFile() else { return false }
        _ = consume range
        return true
    }

    @Test("the range holds exactly the batches read, at every offset and across segments; a removed segment gives none")
    func ranges() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        var config = TopicConfig()
        config.segmentBytes = 16 << 10
        config.maxBatchBytes = 8 << 10
        config.maxRecordBytes = 1 << 10
        try store.createTopic("t", config: config)
        for round in 0..<40 {
            let records = (0..<25).map { Record(key: Array("k\(round)-\($0)".utf8), value: [UInt8](repeating: UInt8(round), count: 100)) }
            try store.append(to: "t", records: records, partition: 0, acks: .buffered)
        }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.segments.count > 3)
        for offset in stride(from: Int64(0), to: 1000, by: 37) {
            let result = try log.read(from: offset, maxBytes: 4 << 10)
            let expected = result.batches.flatMap(\.encodedBytes)
            guard let range = result.openSegmentFile() else {
                Issue.record("no file range for the read at \(offset)")
                continue
            }
            #expect(Self.fileBytes(range) == expected)
        }
        // At the end there is nothing to send.
        #expect(try !Self.opens(log.read(from: 1000)))

        // Once retention has renamed the first segment away, a read made before gives no range
        // (its batches are still readable in memory), and a range opened before still reads.
        let early = try log.read(from: 0, maxBytes: 4 << 10)
        guard let opened = early.openSegmentFile() else {
            Issue.record("no file range for the first segment")
            return
        }
        try store.deleteRecords(topic: "t", partition: 0, before: log.segments[1].baseOffset)
        #expect(!Self.opens(early))
        #expect(try early.records().first?.offset == 0)
        #expect(Self.fileBytes(opened) == early.batches.flatMap(\.encodedBytes))
    }
}
