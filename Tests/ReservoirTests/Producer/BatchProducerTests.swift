import Foundation
import Testing
@testable import Reservoir

@Suite("BatchProducer: pipelined appends")
struct BatchProducerTests {
    @Test("writes every batch in the order sent, with exact offsets and records", arguments: [CompressionCodec.none, .lz4])
    func orderAndRecords(codec: CompressionCodec) throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(partitions: 3, compression: codec, segmentBytes: 64 * 1024))
        let producer = try store.makeProducer(for: "t", acks: .buffered, maxInFlight: 3)
        let builder = try producer.makeBatchBuilder()
        #expect(builder.compression == codec)
        var sent: [[Record]] = [[], [], []]
        var pending: [(PendingAppend, Range<Int>)] = []
        var next = 0
        for round in 0..<60 {
            let size = 1 + (round * 37) % 90
            let batch = records(next..<(next + size), size: 30 + round % 200, timestamp: { 1_764_000_000_000 + Int64($0) })
            for record in batch { try builder.append(record) }
            // Rounds 0, 3, 6... name partition 1; the others go round robin.
            let ticket = try producer.send(builder, partition: round % 3 == 0 ? 1 : nil)
            #expect(builder.isEmpty)
            sent[ticket.partition] += batch
            pending.append((ticket, (sent[ticket.partition].count - size)..<sent[ticket.partition].count))
            next += size
        }
        try producer.flush()
        for (ticket, positions) in pending {
            #expect(ticket.isComplete)
            let range = try ticket.wait()
            #expect(range.partition == ticket.partition)
            #expect(range.offsets == Int64(positions.lowerBound)...Int64(positions.upperBound - 1))
        }
        for partition in 0..<3 {
            let got = try allRecords(try store.log(topic: "t", partition: partition))
            let expected = sent[partition]
            #expect(got.map(\.offset) == (0..<Int64(expected.count)).map { $0 })
            #expect(got.map(\.key) == expected.map(\.key))
            #expect(got.map(\.value) == expected.map(\.value))
            #expect(got.map(\.headers) == expected.map(\.headers))
            #expect(got.map(\.timestamp) == expected.map { $0.timestamp! })
        }
        #expect(sent.allSatisfy { !$0.isEmpty })
        try producer.close()
        #expect(throws: ReservoirError.self) { try producer.send(builder) }
    }

    @Test("durable acks: once flushed, every batch is fsync'd", arguments: [Acks.durable, .buffered])
    func durableAcks(acks: Acks) async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t")
        let producer = try store.makeProducer(for: "t", acks: acks)
        let builder = try producer.makeBatchBuilder()
        var last: PendingAppend?
        for round in 0..<20 {
            for record in records((round * 50)..<((round + 1) * 50)) { try builder.append(record) }
            last = try producer.send(builder, partition: 0)
        }
        try await producer.flush()
        #expect(try await last?.value().offsets == 950...999)
        let log = try store.log(topic: "t", partition: 0)
        let durable = try log.read(from: 0, maxBytes: 1 << 20, isolation: .durable)
        // The topic flushes only on roll and close: buffered acks leave the records unsynced.
        #expect(try durable.records().count == (acks == .durable ? 1000 : 0))
        try producer.close()
    }

    @Test("records that break the topic's rules are refused at send, and stay in the builder")
    func refusedAtSend() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("compacted", config: TopicConfig(maxRecordBytes: 200, cleanup: .compact))
        let producer = try store.makeProducer(for: "compacted", acks: .buffered)
        let builder = try producer.makeBatchBuilder()
        #expect(throws: ReservoirError.self) { try producer.send(builder) }  // empty
        try builder.append(key: nil as [UInt8]?, value: [1, 2, 3])
        #expect { try producer.send(builder) } throws: { ($0 as? ReservoirError)?.code == .invalidArgument }
        #expect(builder.count == 1)
        builder.reset()
        try builder.append(key: [1], value: [UInt8](repeating: 9, count: 300))
        #expect { try producer.send(builder) } throws: { ($0 as? ReservoirError)?.code == .recordTooLarge }
        #expect(builder.count == 1)
        #expect { try producer.send(builder, partition: 5) } throws: { ($0 as? ReservoirError)?.code == .partitionNotFound }
        #expect(throws: ReservoirError.self) { try store.makeProducer(for: "missing") }
        #expect(throws: ReservoirError.self) { try store.makeProducer(for: "compacted", maxInFlight: 0) }
        try producer.flush()
        #expect(try store.log(topic: "compacted", partition: 0).endOffset == 0)
    }

    @Test("a batch over the batch limit fails alone; flush reports it once")
    func batchOverLimit() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(maxBatchBytes: 4000))
        let producer = try store.makeProducer(for: "t", acks: .buffered)
        let builder = try producer.makeBatchBuilder()
        for record in records(0..<10, size: 100) { try builder.append(record) }
        let small = try producer.send(builder, partition: 0)
        for record in records(10..<60, size: 100) { try builder.append(record) }
        let large = try producer.send(builder, partition: 0)
        for record in records(60..<70, size: 100) { try builder.append(record) }
        let after = try producer.send(builder, partition: 0)
        #expect { try producer.flush() } throws: { ($0 as? ReservoirError)?.code == .recordTooLarge }
        #expect(try small.wait().offsets == 0...9)
        #expect { try large.wait() } throws: { ($0 as? ReservoirError)?.code == .recordTooLarge }
        #expect(try after.wait().offsets == 10...19)
        try producer.flush()
        let got = try allRecords(try store.log(topic: "t", partition: 0))
        #expect(got.map(\.value) == (records(0..<10, size: 100) + records(60..<70, size: 100)).map(\.value))
        try producer.close()
    }

    @Test("several threads share one producer; every record is written once")
    func concurrentSenders() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(partitions: 2, compression: .lz4))
        let producer = try store.makeProducer(for: "t", acks: .durable, maxInFlight: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    let builder = try producer.makeBatchBuilder()
                    for round in 0..<25 {
                        let start = sender * 10_000 + round * 40
                        for record in records(start..<(start + 40)) { try builder.append(record) }
                        try producer.send(builder)
                    }
                }
            }
            try await group.waitForAll()
        }
        try producer.close()
        let values = try (0..<2).flatMap { try allRecords(try store.log(topic: "t", partition: $0)) }.map(\.value)
        let expected = (0..<4).flatMap { sender in records((sender * 10_000)..<(sender * 10_000 + 1000)) }.map(\.value)
        #expect(values.count == 4000)
        #expect(Set(values) == Set(expected))
    }
}
