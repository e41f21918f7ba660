import Foundation
import Testing
@testable import Reservoir

/// Idempotent producers' batches: duplicates answered with their original offsets, gaps and
/// fenced epochs refused, the state kept across a clean close and rebuilt after a crash.
@Suite("Idempotent producers: sequences per partition, snapshots, producer ids")
struct IdempotentProducerTests {
    /// Record time of the batches: recent, so that no producer expires during a test.
    static let timestamp = Int64(Date().timeIntervalSince1970 * 1000)

    /// A client's batch of `count` records from producer `id` at `epoch`, starting at `sequence`.
    static func batch(_ id: Int64, epoch: Int16 = 0, sequence: Int32, count: Int = 1, tag: String = "") throws -> [UInt8] {
        let records = (0..<count).map { Record(key: Array("k\(sequence)-\($0)".utf8), value: Array("\(tag)\(sequence)-\($0)".utf8)) }
        var bytes = try RecordBatchEncoder().encodedBytes(records, defaultTimestamp: Self.timestamp)
        bytes = AppendPipelineTests.rewritten(bytes, field: RecordBatchHeader.Field.producerId, id)
        bytes = AppendPipelineTests.rewritten(bytes, field: RecordBatchHeader.Field.producerEpoch, epoch)
        return AppendPipelineTests.rewritten(bytes, field: RecordBatchHeader.Field.baseSequence, sequence)
    }

    static func append(_ store: Reservoir, _ bytes: [UInt8]) throws -> ClosedRange<Int64> {
        try bytes.withUnsafeBytes { raw in try store.appendEncodedBatches(to: "t", partition: 0, bytes: raw).offsets }
    }

    /// The code of the error `body` throws, nil when it throws none.
    static func code(_ body: () throws -> Void) -> ReservoirError.Code? {
        do {
            try body()
            return nil
        } catch {
            return (error as? ReservoirError)?.code
        }
    }

    @Test("a retry of one of the last five batches gets its original offsets; a gap, an older epoch and an unknown producer are refused")
    func sequenceRules() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t")
        let log = try store.log(topic: "t", partition: 0)
        #expect(try Self.append(store, Self.batch(7, sequence: 0, count: 3)) == 0...2)
        #expect(try Self.append(store, Self.batch(7, sequence: 3, count: 2)) == 3...4)
        #expect(try Self.append(store, Self.batch(7, sequence: 5)) == 5...5)
        // The retry: same offsets, nothing written.
        #expect(try Self.append(store, Self.batch(7, sequence: 3, count: 2)) == 3...4)
        #expect(log.endOffset == 6)
        #expect(Self.code { _ = try Self.append(store, Self.batch(7, sequence: 7)) } == .outOfOrderSequence)
        #expect(Self.code { _ = try Self.append(store, Self.batch(8, sequence: 5)) } == .unknownProducer)
        // A new epoch starts at 0 and fences the old one.
        #expect(Self.code { _ = try Self.append(store, Self.batch(7, epoch: 1, sequence: 4)) } == .outOfOrderSequence)
        #expect(try Self.append(store, Self.batch(7, epoch: 1, sequence: 0)) == 6...6)
        #expect(Self.code { _ = try Self.append(store, Self.batch(7, epoch: 0, sequence: 6)) } == .producerFenced)
        // Only the last five batches are remembered.
        for sequence in 0..<7 { _ = try Self.append(store, Self.batch(9, sequence: Int32(sequence))) }
        #expect(try Self.append(store, Self.batch(9, sequence: 2)) == 9...9)
        #expect(Self.code { _ = try Self.append(store, Self.batch(9, sequence: 1)) } == .outOfOrderSequence)
        #expect(log.endOffset == 14)
        // Every record once, in order.
        #expect(try allRecords(log).map(\.offset) == Array(0..<14))
    }

    @Test("the state survives a clean close in Kafka's snapshot format, and a crash by a rebuild from the log")
    func survivesRestarts() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t")
            _ = try Self.append(store, Self.batch(5, sequence: 0))
            _ = try Self.append(store, Self.batch(5, sequence: 1, count: 2))
            try store.close()
        }
        let snapshot = dir + "/topics/t/0/00000000000000000003.snapshot"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: snapshot)))
        var entries = BigEndianWriter()
        entries.append(Int32(1))
        entries.append(Int64(5))  // producer id
        entries.append(Int16(0))  // epoch
        entries.append(Int32(2))  // last sequence
        entries.append(Int64(2))  // last offset
        entries.append(Int32(1))  // offset delta
        entries.append(Self.timestamp)  // timestamp
        entries.append(Int32(-1))  // coordinator epoch
        entries.append(Int64(-1))  // first offset of an open transaction
        var expected = BigEndianWriter()
        expected.append(Int16(1))
        expected.append(CRC32C.checksum(entries.bytes))
        #expect(bytes == expected.bytes + entries.bytes)

        let copy = dir + "-crash"
        defer { removeDirectory(copy) }
        do {
            let store = try Reservoir.open(at: dir)
            #expect(try Self.append(store, Self.batch(5, sequence: 1, count: 2)) == 1...2)
            #expect(try Self.append(store, Self.batch(5, sequence: 3)) == 3...3)
            // A crash now: the copy has no snapshot of sequence 3, only the log.
            try FileManager.default.copyItem(atPath: dir, toPath: copy)
            try? FileManager.default.removeItem(atPath: copy + "/.lock")
            try store.close()
        }
        let recovered = try Reservoir.open(at: copy)
        defer { try? recovered.close() }
        #expect(!recovered.openedAfterCleanShutdown)
        #expect(try Self.append(recovered, Self.batch(5, sequence: 3)) == 3...3)
        #expect(try Self.append(recovered, Self.batch(5, sequence: 4)) == 4...4)
        #expect(try recovered.log(topic: "t", partition: 0).endOffset == 5)
    }

    @Test("a snapshot that fails its CRC is passed over: the state is rebuilt from every batch, a retry is still a duplicate")
    func corruptSnapshot() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t")
            _ = try Self.append(store, Self.batch(4, sequence: 0, count: 2))
            _ = try Self.append(store, Self.batch(4, sequence: 2))
            try store.close()
        }
        let snapshot = dir + "/topics/t/0/00000000000000000003.snapshot"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: snapshot)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: snapshot))
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(store.openedAfterCleanShutdown)
        #expect(try Self.append(store, Self.batch(4, sequence: 2)) == 2...2)
        #expect(try Self.append(store, Self.batch(4, sequence: 3)) == 3...3)
    }

    @Test("compaction keeps a producer's newest batch, without its records, so that its state is rebuilt from the log alone")
    func compactionKeepsNewestBatch() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            try store.createTopic(
                "t",
                config: TopicConfig(
                    segmentBytes: 4096, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096, cleanup: .compact,
                    fileDeleteDelayMs: 0))
            // Producer 3's two batches (keys k0-0 and k1-0), then newer values of both keys from a
            // plain producer, enough to roll segments past them.
            #expect(try Self.append(store, Self.batch(3, sequence: 0)) == 0...0)
            #expect(try Self.append(store, Self.batch(3, sequence: 1)) == 1...1)
            for round in 0..<200 {
                let records = ["k0-0", "k1-0"].map { Record(key: Array($0.utf8), value: Array("newer-\(round)".utf8)) }
                try store.append(to: "t", records: records, acks: .buffered)
            }
            let log = try store.log(topic: "t", partition: 0)
            try waitForRolledSegmentsDurable(log)
            #expect(try store.maintain().partitions.first?.compacted == true)
            var headers: [RecordBatchHeader] = []
            for segment in log.segments {
                let file = dir + "/topics/t/0/" + String(format: "%020lld.log", segment.baseOffset)
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                bytes.withUnsafeBytes { raw in
                    var scanner = BatchScanner(raw, verifyCRC: true)
                    while let entry = scanner.next() { headers.append(entry.header) }
                }
            }
            // Sequence 0's batch is gone; sequence 1's stays at its offset, without records.
            let kept = headers.filter { $0.producerId == 3 }
            #expect(kept.map(\.baseOffset) == [1])
            #expect(kept.map(\.recordCount) == [0])
            #expect(kept.map(\.baseSequence) == [1])
            try store.close()
        }
        // With no snapshot readable, the state comes from the log: a retry of sequence 1 is a
        // duplicate.
        let partition = dir + "/topics/t/0"
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".snapshot") }
        #expect(!snapshots.isEmpty)
        for name in snapshots {
            let url = URL(fileURLWithPath: partition + "/" + name)
            var bytes = try [UInt8](Data(contentsOf: url))
            bytes[bytes.count - 1] ^= 0xFF
            try Data(bytes).write(to: url)
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        #expect(try Self.append(store, Self.batch(3, sequence: 1)) == 1...1)
        #expect(try Self.append(store, Self.batch(3, sequence: 2)) == 402...402)
    }

    @Test("a producer idle past producer.id.expiration.ms is forgotten: its next batch is refused as from an unknown producer")
    func expiry() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let options = Reservoir.Options(producerIdExpirationMilliseconds: 1000)
        do {
            let store = try Reservoir.open(at: dir, options: options)
            try store.createTopic("t")
            _ = try Self.append(store, Self.batch(3, sequence: 0))
            try store.close()
        }
        // The batch's timestamp is over a second old by now, if only just: wait it out.
        Thread.sleep(forTimeInterval: max(0, Double(Self.timestamp + 1100) / 1000 - Date().timeIntervalSince1970))
        let store = try Reservoir.open(at: dir, options: options)
        defer { try? store.close() }
        #expect(Self.code { _ = try Self.append(store, Self.batch(3, sequence: 1)) } == .unknownProducer)
        #expect(try Self.append(store, Self.batch(3, epoch: 1, sequence: 0)) == 1...1)
    }

    @Test("producer ids are never given twice: blocks are reserved durably, a reopen starts a new block")
    func producerIds() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            #expect(try store.newProducerId() == 0)
            #expect(try store.newProducerId() == 1)
            try store.close()
        }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(try store.newProducerId() == 1000)
        #expect(try String(contentsOfFile: dir + "/producer-id-block", encoding: .utf8) == "2000\n")
    }
}
