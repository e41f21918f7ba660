import CoreMetrics
import Foundation
import MetricsTestKit
import NIOCore
import Testing
@testable import Reservoir
@testable import ReservoirKafka

#if canImport(Glibc)
import Glibc
#endif

/// The server started from Swift on an open store, as an application embeds it.
@Suite("Kafka server embedded in an application", .serialized)
struct EmbeddedServerTests {
    @Test("started on a free port, it answers, counts what it answered, and shutdown closes open connections")
    func embedded() async throws {
        let metrics = testMetrics
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("embedded")
        let server = try await KafkaServer.start(store: store, configuration: KafkaServer.Configuration(host: "127.0.0.1", port: 0))
        #expect(server.port > 0)
        let socket = try KafkaServerTests.connect(port: server.port)
        defer { close(socket) }
        // Metadata v1 for every topic (a null array), correlation id 9.
        let request: [UInt8] = [0, 0, 0, 17, 0, 3, 0, 1, 0, 0, 0, 9, 0, 3] + Array("app".utf8) + [0xFF, 0xFF, 0xFF, 0xFF]
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Blocking reads run off the cooperative pool, which the server's own tasks need.
        var (buffer, count) = await Self.receive(socket)
        try #require(count > 8)
        #expect(Array(buffer[4..<8]) == [0, 0, 0, 9])
        let response = try MetadataResponse.decode(.init(bytes: buffer[8..<count]), version: 1)
        #expect(response.topics.map(\.name) == ["embedded"])
        #expect(response.brokers.map(\.port) == [Int32(server.port)])
        #expect(try metrics.expectCounter("reservoir_kafka_requests_total", [("api", "metadata")]).totalValue >= 1)
        #expect(try metrics.expectCounter("reservoir_kafka_bytes_out_total").totalValue >= Int64(count))

        try await server.shutdown()
        // The connection was closed by the server.
        (buffer, count) = await Self.receive(socket)
        #expect(count <= 0)
        // Nothing listens any more.
        let probe = KafkaServerTests.attempt(port: server.port)
        defer { close(probe.socket) }
        #expect(probe.result != 0)
    }

    @Test("it answers while every one of Swift concurrency's cooperative threads is blocked")
    func answersWithCooperativePoolBlocked() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("busy")
        let server = try await KafkaServer.start(store: store, configuration: KafkaServer.Configuration(host: "127.0.0.1", port: 0))
        let socket = try KafkaServerTests.connect(port: server.port)
        // An application that blocks its cooperative threads: all but this test's own, which
        // blocks below in a synchronous receive.
        let width = ProcessInfo.processInfo.activeProcessorCount
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for _ in 0..<width {
            Task.detached {
                started.signal()
                release.wait()
            }
        }
        // A blocker that has not started within the wait has no thread to start on: other tests of
        // this process hold it, which blocks the pool just as well.
        let deadline = DispatchTime.now() + 2
        var blocked = 0
        while blocked < width - 1, started.wait(timeout: deadline) == .success { blocked += 1 }
        let request: [UInt8] = [0, 0, 0, 17, 0, 3, 0, 1, 0, 0, 0, 5, 0, 3] + Array("app".utf8) + [0xFF, 0xFF, 0xFF, 0xFF]
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(socket, &buffer, buffer.count, 0)
        for _ in 0..<width { release.signal() }
        close(socket)
        try #require(count > 8)
        #expect(Array(buffer[4..<8]) == [0, 0, 0, 5])
        #expect(try MetadataResponse.decode(.init(bytes: buffer[8..<count]), version: 1).topics.map(\.name) == ["busy"])
        try await server.shutdown()
    }

    @Test("large fetches go out from the segment files (sendfile), byte for byte, in the legacy and the flexible layout")
    func sendfileFetch() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("big", config: TopicConfig(partitions: 2))
        for partition in 0..<2 {
            for round in 0..<10 {
                let records = (0..<300).map {
                    Record(key: Array("\(round)-\($0)".utf8), value: [UInt8](repeating: UInt8($0 % 251), count: 100))
                }
                _ = try await store.append(to: "big", records: records, partition: partition, acks: .buffered)
            }
        }
        let stored = try (0..<2).map {
            try store.log(topic: "big", partition: $0).read(from: 0, maxBytes: 1 << 20).batches.flatMap(\.encodedBytes)
        }
        #expect(stored.allSatisfy { $0.count > KafkaBroker.sendfileThreshold })

        var request = FetchRequest()
        request.maxBytes = 10 << 20
        var topic = FetchRequest.FetchTopic()
        topic.topic = "big"
        topic.partitions = (0..<2).map { index in
            var partition = FetchRequest.FetchPartition()
            partition.partition = Int32(index)
            partition.partitionMaxBytes = 1 << 20
            return partition
        }
        request.topics = [topic]
        let broker = KafkaBroker(store: store)
        let server = try await KafkaServer.start(store: store, configuration: KafkaServer.Configuration(host: "127.0.0.1", port: 0))
        let socket = try KafkaServerTests.connect(port: server.port)
        defer { close(socket) }
        for version: Int16 in [4, 12] {
            // The broker answers with file ranges, which only the socket turns into bytes.
            let direct = await broker.fetch(request, version: version)
            #expect(direct.responses.flatMap(\.partitions).allSatisfy { if case .file = $0.records { true } else { false } })
            #expect(direct.encodedParts(version: version).files.count == 2)

            var header = RequestHeader()
            header.requestApiKey = KafkaAPI.fetch.rawValue
            header.requestApiVersion = version
            header.correlationId = Int32(version)
            header.clientId = "test"
            var writer = KafkaWriter()
            writer.writeInt32(0)
            header.encode(into: &writer, version: version >= 12 ? 2 : 1)
            request.encode(into: &writer, version: version)
            writer.buffer.setInteger(Int32(writer.buffer.readableBytes - 4), at: 0, endianness: .big)
            let frame = Array(writer.buffer.readableBytesView)
            let body = try #require(await Self.exchange(socket, frame))
            var reader = KafkaReader(ByteBuffer(bytes: body))
            let responseHeader = try ResponseHeader(from: &reader, version: version >= 12 ? 1 : 0)
            #expect(responseHeader.correlationId == Int32(version))
            let response = try FetchResponse.decode(reader.remainingBuffer, version: version)
            let partitions = response.responses.flatMap(\.partitions)
            #expect(partitions.map(\.partitionIndex) == [0, 1])
            #expect(partitions.map { Array(($0.records ?? .empty).buffer.readableBytesView) } == stored)
        }
        try await server.shutdown()
    }

    @Test("InitProducerId hands out a producer id; a Produce sent again is answered with its first offset and written once")
    func idempotentRetry() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t")
        let broker = KafkaBroker(store: store)
        defer { broker.shutdown() }
        let initialized = try InitProducerIdResponse.decode(
            #require(await broker.handle(.initProducerId, version: 4, body: InitProducerIdRequest().encoded(version: 4))).flattened,
            version: 4)
        #expect(initialized.errorCode == 0 && initialized.producerId >= 0 && initialized.producerEpoch == 0)
        var transactional = InitProducerIdRequest()
        transactional.transactionalId = "tx"
        let refused = try InitProducerIdResponse.decode(
            #require(await broker.handle(.initProducerId, version: 4, body: transactional.encoded(version: 4))).flattened, version: 4)
        #expect(refused.errorCode == KafkaErrorCode.transactionalIdAuthorizationFailed.rawValue)

        func produce(sequence: Int32) async throws -> ProduceResponse.PartitionProduceResponse? {
            let batch = try IdempotentProducerTests.batch(initialized.producerId, sequence: sequence, count: 3)
            var request = ProduceRequest()
            request.acks = -1
            var topic = ProduceRequest.TopicProduceData()
            topic.name = "t"
            var partition = ProduceRequest.PartitionProduceData()
            partition.records = .bytes(ByteBuffer(bytes: batch))
            topic.partitionData = [partition]
            request.topicData = [topic]
            let answer = try #require(await broker.handle(.produce, version: 9, body: request.encoded(version: 9)))
            return try ProduceResponse.decode(answer.flattened, version: 9).responses.first?.partitionResponses.first
        }
        #expect(try await produce(sequence: 0)?.baseOffset == 0)
        #expect(try await produce(sequence: 3)?.baseOffset == 3)
        let retried = try await produce(sequence: 0)
        #expect(retried?.errorCode == 0 && retried?.baseOffset == 0)
        #expect(try await produce(sequence: 9)?.errorCode == KafkaErrorCode.outOfOrderSequenceNumber.rawValue)
        #expect(try store.log(topic: "t", partition: 0).endOffset == 6)
    }

    /// Sends `frame` and reads one whole response frame back (its body), off the cooperative pool.
    static func exchange(_ socket: Int32, _ frame: [UInt8]) async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                _ = frame.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                func read(_ count: Int) -> [UInt8]? {
                    var bytes = [UInt8](repeating: 0, count: count)
                    var filled = 0
                    while filled < count {
                        let got = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + filled, count - filled, 0) }
                        guard got > 0 else { return nil }
                        filled += got
                    }
                    return bytes
                }
                guard let size = read(4) else { return continuation.resume(returning: nil) }
                let length = Int(size[0]) << 24 | Int(size[1]) << 16 | Int(size[2]) << 8 | Int(size[3])
                continuation.resume(returning: read(length))
            }
        }
    }

    static func receive(_ socket: Int32) async -> ([UInt8], Int) {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(socket, &buffer, buffer.count, 0)
                continuation.resume(returning: (buffer, count))
            }
        }
    }
}
