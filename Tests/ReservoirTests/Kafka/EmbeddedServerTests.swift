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
