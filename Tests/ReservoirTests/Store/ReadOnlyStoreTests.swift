import Foundation
import Testing
@testable import Reservoir

/// A store opened read-only beside its writer: nothing on disk changes, writes are refused, and
/// the writer's appends, rolls, retention and compaction are followed as it publishes them.
@Suite("Read-only stores: following the writer")
struct ReadOnlyStoreTests {
    static func values(_ records: [LogRecord]) -> [String] {
        records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }

    static func keyed(_ range: Range<Int>, keys: Int) -> [Record] {
        range.map { Record(key: Array("k\($0 % keys)".utf8), value: Array("v\($0)".utf8)) }
    }

    @Test("a missing store is an error that names it, and nothing is created")
    func missingStore() throws {
        let dir = temporaryDirectory() + "/absent"
        defer { removeDirectory(dir) }
        #expect(throws: ReservoirError.self) { try Reservoir.openReadOnly(at: dir) }
        do {
            _ = try Reservoir.openReadOnly(at: dir)
        } catch {
            #expect(error.code == .storeNotFound)
            #expect(error.message.contains(dir))
        }
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test("the writer's appends, rolls, record deletion and compaction are followed; writes are refused; no file changes")
    func follows() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let writer = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? writer.close() }
        try writer.createTopic(
            "t",
            config: TopicConfig(
                segmentBytes: 4096, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096, cleanup: .compact,
                fileDeleteDelayMs: 0))
        for start in stride(from: 0, to: 100, by: 10) {
            try writer.append(to: "t", records: Self.keyed(start..<start + 10, keys: 1000), acks: .durable)
        }
        let reader = try Reservoir.openReadOnly(at: dir)
        defer { try? reader.close() }
        #expect(reader.isReadOnly && reader.topicNames == ["t"])
        let log = try reader.log(topic: "t", partition: 0)
        #expect(Self.values(try allRecords(log)) == (0..<100).map { "v\($0)" })

        // Written but not yet durable: a durable-visibility reader does not see it, a written one does.
        try writer.append(to: "t", records: Self.keyed(100..<110, keys: 1000), acks: .buffered)
        let written = try Reservoir.openReadOnly(at: dir, visibility: .written)
        defer { try? written.close() }
        #expect(try written.log(topic: "t", partition: 0).endOffset == 110)
        try writer.log(topic: "t", partition: 0).flush()
        #expect(log.endOffset == 110)

        // Rolls: many segments later, every record in order.
        for start in stride(from: 110, to: 600, by: 10) {
            try writer.append(to: "t", records: Self.keyed(start..<start + 10, keys: 1000), acks: .durable)
        }
        #expect(try writer.log(topic: "t", partition: 0).segments.count >= 3)
        #expect(Self.values(try allRecords(log)) == (0..<600).map { "v\($0)" })
        #expect(log.segments.map(\.baseOffset) == (try writer.log(topic: "t", partition: 0)).segments.map(\.baseOffset))

        // Writes are refused with the reason.
        #expect(throws: ReservoirError.self) { try reader.append(to: "t", records: Self.keyed(0..<1, keys: 1), acks: .buffered) }
        do { try reader.createTopic("u") } catch { #expect(error.code == .readOnly) }
        do { _ = try reader.maintain() } catch { #expect(error.code == .readOnly) }

        // Record deletion moves the start.
        try writer.deleteRecords(topic: "t", partition: 0, before: 250)
        #expect(log.startOffset == 250)
        #expect(throws: ReservoirError.self) { try log.read(from: 100) }
        #expect(Self.values(try allRecords(log)) == (250..<600).map { "v\($0)" })

        // Compaction: newer values for keys 300..<350 make the old ones go.
        let updates = (300..<350).map { Record(key: Array("k\($0)".utf8), value: Array("new\($0)".utf8)) }
        try writer.append(to: "t", records: updates, acks: .durable)
        for start in stride(from: 650, to: 800, by: 10) {
            try writer.append(to: "t", records: Self.keyed(start..<start + 10, keys: 1000), acks: .durable)
        }
        let writerLog = try writer.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(writerLog)
        #expect(try writer.maintain().partitions.first?.compacted == true)
        let expected = try allRecords(writerLog)
        #expect(!Self.values(expected).contains("v300"))
        #expect(try allRecords(log) == expected)

        // New topics appear.
        try writer.createTopic("later", config: TopicConfig(partitions: 2))
        try writer.append(to: "later", records: [Record(value: Array("hello".utf8))], partition: 1, acks: .durable)
        #expect(reader.topicNames == ["later", "t"])
        #expect(Self.values(try allRecords(reader.log(topic: "later", partition: 1))) == ["hello"])
    }

    @Test("after the writer closes, the files are read as they are; a read-only open changes no store file")
    func closedStore() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let writer = try Reservoir.open(at: dir)
            try writer.createTopic("t", config: TopicConfig(partitions: 2))
            try writer.append(to: "t", records: Self.keyed(0..<50, keys: 50), partition: 1, acks: .durable)
            try writer.close()
        }
        func listing() throws -> [String: Date] {
            var files: [String: Date] = [:]
            let enumerator = FileManager.default.enumerator(atPath: dir)
            // `.live` is the one file readers write: the count of those waiting for the writer.
            while let path = enumerator?.nextObject() as? String {
                guard path != LiveStateFile.fileName else { continue }
                let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/" + path)
                files[path] = attributes[.modificationDate] as? Date
            }
            #expect(files.count > 10)
            return files
        }
        let before = try listing()
        let reader = try Reservoir.openReadOnly(at: dir)
        #expect(Self.values(try allRecords(reader.log(topic: "t", partition: 1))) == (0..<50).map { "v\($0)" })
        #expect(try reader.log(topic: "t", partition: 0).endOffset == 0)
        try reader.close()
        #expect(try listing() == before)
        // The writer opens again while nobody holds the store but readers.
        let again = try Reservoir.openReadOnly(at: dir)
        defer { try? again.close() }
        let writer = try Reservoir.open(at: dir)
        defer { try? writer.close() }
        try writer.append(to: "t", records: Self.keyed(50..<60, keys: 50), partition: 1, acks: .durable)
        #expect(try again.log(topic: "t", partition: 1).endOffset == 60)
    }

    @Test("damage in a segment fails reads of its offsets, with or without a writer, as it does for the writer")
    func damagedSegment() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let config = TopicConfig(segmentBytes: 4096, indexIntervalBytes: 1 << 20, maxRecordBytes: 1024, maxBatchBytes: 4096)
        do {
            let writer = try Reservoir.open(at: dir)
            try writer.createTopic("t", config: config)
            for i in 0..<40 { try writer.append(to: "t", records: Self.keyed(i * 10..<(i + 1) * 10, keys: 400), acks: .buffered) }
            try writer.close()
        }
        let partition = dir + "/topics/t/0"
        let first = try #require(try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.min())
        let log = partition + "/" + first
        var bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        // The second batch's length and the bytes after it overwritten: the segment stops scanning there.
        let firstBatch = 12 + Int(bytes[8]) << 24 + Int(bytes[9]) << 16 + Int(bytes[10]) << 8 + Int(bytes[11])
        bytes.replaceSubrange(firstBatch..<bytes.count, with: Array(repeating: UInt8(0xA5), count: bytes.count - firstBatch))
        try bytes.write(to: URL(fileURLWithPath: log))

        func expectDamage(_ store: Reservoir, _ comment: Comment) throws {
            let log = try store.log(topic: "t", partition: 0)
            let damage = try #require(log.damage.first, comment)
            #expect(damage.kind == .invalidBytes && damage.firstOffset == 10 && damage.bytePosition == firstBatch, comment)
            #expect(Self.values(try log.read(from: 0).batches.flatMap { try $0.records() }) == (0..<10).map { "v\($0)" }, comment)
            do {
                _ = try log.read(from: 10)
                Issue.record("a read of a damaged offset succeeded: \(comment)")
            } catch {
                #expect(error.code == .corruptData && error.message.contains(first), "\(comment): \(error)")
            }
            // What lies after the damage is read as the writer reads it.
            let after = try #require(damage.endOffset, comment)
            #expect(try log.read(from: after).batches.first?.baseOffset == after, comment)
        }
        let reader = try Reservoir.openReadOnly(at: dir)
        defer { try? reader.close() }
        try expectDamage(reader, "no writer")
        let writer = try Reservoir.open(at: dir)
        try expectDamage(writer, "the writer")
        #expect(try reader.log(topic: "t", partition: 0).damage == writer.log(topic: "t", partition: 0).damage)
        try writer.append(to: "t", records: Self.keyed(400..<410, keys: 400), acks: .durable)
        try expectDamage(reader, "a writer alive")
        #expect(try reader.log(topic: "t", partition: 0).endOffset == 410)
        try writer.close()
    }

    @Test("a reader opened before any writer made the live state follows the writer that opens later")
    func liveStateAppearsLater() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let writer = try Reservoir.open(at: dir)
            try writer.createTopic("t")
            try await writer.append(to: "t", records: Self.keyed(0..<5, keys: 5), acks: .durable)
            try writer.close()
        }
        // A store whose writer never made the file (an earlier version), or whose file was removed.
        try FileManager.default.removeItem(atPath: dir + "/" + LiveStateFile.fileName)
        let reader = try Reservoir.openReadOnly(at: dir)
        defer { try? reader.close() }
        let partition = try reader.reader(topic: "t", partition: 0, from: .earliest)
        var iterator = partition.makeAsyncIterator()
        for i in 0..<5 { #expect(try await iterator.next()?.valueString == "v\(i)") }
        let waiting = Task { [iterator] in
            var iterator = iterator
            return try await iterator.next()?.valueString
        }
        let writer = try Reservoir.open(at: dir)
        defer { try? writer.close() }
        try writer.createTopic("u", config: TopicConfig(partitions: 2))
        _ = try await writer.append(to: "t", records: Self.keyed(5..<6, keys: 5), acks: .durable)
        #expect(try await withDeadline { try await waiting.value } == "v5")
        #expect(try reader.log(topic: "t", partition: 0).endOffset == 6)
        #expect(try reader.topic("u").partitions.count == 2)
    }

    @Test("a reader waiting in another store is woken by the writer's append")
    func wakesWaiters() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let writer = try Reservoir.open(at: dir)
        defer { try? writer.close() }
        try writer.createTopic("t")
        let reader = try Reservoir.openReadOnly(at: dir)
        defer { try? reader.close() }
        let partition = try reader.reader(topic: "t", partition: 0, from: .earliest)
        let first = Task {
            var iterator = partition.makeAsyncIterator()
            return try await iterator.next()?.valueString
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        _ = try await writer.append(to: "t", records: [Record(value: Array("woken".utf8))], acks: .durable)
        #expect(try await withDeadline { try await first.value } == "woken")
    }
}
