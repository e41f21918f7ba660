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
