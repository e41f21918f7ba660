import Foundation
import NIOCore
import Testing
import Reservoir
@testable import ReservoirKafka

/// The generated codecs against request bytes real clients sent (captured once from kcat 1.7.1
/// on librdkafka 2.0.2, confluent-kafka on librdkafka 2.16 and kafka-python 3.0, through a proxy
/// in front of `reservoir serve`; `Fixtures/kafka-requests/<client>-key<API>-v<version>.bin`, one
/// request frame each, its size prefix removed).
@Suite("Kafka message codecs: bytes from real clients")
struct KafkaCodecTests {
    static let directory = Fixtures.directory.appendingPathComponent("kafka-requests")

    static func frames() throws -> [(name: String, bytes: [UInt8])] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".bin") }.sorted().map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    /// Decodes `body` as `Message` of `version` and encodes it again: the same bytes must come out.
    static func roundTrip<Message: KafkaMessage>(_ type: Message.Type, _ body: ByteBuffer, version: Int16) throws -> Message {
        let message = try Message.decode(body, version: version)
        #expect(Array(message.encoded(version: version).readableBytesView) == Array(body.readableBytesView), "\(Message.self) v\(version)")
        return message
    }

    @Test("every captured request decodes whole and encodes back to the same bytes, header included")
    func capturedRequests() throws {
        let frames = try Self.frames()
        #expect(frames.count >= 15)
        for (name, bytes) in frames {
            var frame = ByteBuffer(bytes: bytes)
            let (header, api, body) = try KafkaConnectionHandler.parse(&frame)
            #expect(name.contains("-key\(api.rawValue)-v\(header.requestApiVersion)"))
            #expect(header.clientId?.isEmpty == false, "\(name)")
            let version = header.requestApiVersion
            switch api {
            case .apiVersions: _ = try Self.roundTrip(ApiVersionsRequest.self, body, version: version)
            case .metadata: _ = try Self.roundTrip(MetadataRequest.self, body, version: version)
            case .produce:
                let request = try Self.roundTrip(ProduceRequest.self, body, version: version)
                #expect(request.topicData.allSatisfy { !$0.partitionData.isEmpty })
                #expect(request.topicData.flatMap(\.partitionData).allSatisfy { ($0.records?.byteCount ?? 0) > 61 })
            case .fetch: _ = try Self.roundTrip(FetchRequest.self, body, version: version)
            case .listOffsets: _ = try Self.roundTrip(ListOffsetsRequest.self, body, version: version)
            default: Issue.record("\(name): no codec test for \(api)")
            }
            // The header too: the same bytes from the decoded fields.
            let headerVersion: Int16 = api.firstFlexibleVersion.map { version >= $0 } == true ? 2 : 1
            var writer = KafkaWriter()
            header.encode(into: &writer, version: headerVersion)
            #expect(Array(writer.buffer.readableBytesView) == Array(bytes[..<(bytes.count - body.readableBytes)]), "\(name) header")
        }
    }

    @Test("what kcat sent says what kcat was asked: the topic, acks=all, its records with their header")
    func kcatProduce() throws {
        let frame = try #require(try Self.frames().first { $0.name.hasPrefix("kcat-key0-") })
        var buffer = ByteBuffer(bytes: frame.bytes)
        let (header, _, body) = try KafkaConnectionHandler.parse(&buffer)
        #expect(header.clientId == "rdkafka")
        let request = try ProduceRequest.decode(body, version: header.requestApiVersion)
        #expect(request.topicData.map(\.name) == ["cap"])
        #expect(request.acks == -1)
        var records: [String] = []
        for partition in request.topicData[0].partitionData {
            let bytes = Array(try #require(partition.records).buffer.readableBytesView)
            for record in try RecordBatch(copying: bytes).records() {
                let header = record.headers.map { "\($0.key)=\(String(decoding: $0.value ?? [], as: UTF8.self))" }
                records.append(
                    "\(String(decoding: record.key ?? [], as: UTF8.self)):\(String(decoding: record.value ?? [], as: UTF8.self)) \(header)")
            }
        }
        #expect(records.sorted() == ["a:1 [\"h=v\"]", "b:2 [\"h=v\"]", "c:3 [\"h=v\"]"])
    }

    @Test("truncated, oversized counts and bad lengths are typed errors, never traps")
    func malformed() throws {
        let frames = try Self.frames()
        for (name, bytes) in frames {
            // Every prefix of every captured request.
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) {
                var frame = ByteBuffer(bytes: bytes[..<cut])
                guard let (header, api, body) = try? KafkaConnectionHandler.parse(&frame) else { continue }
                switch api {
                case .produce:
                    #expect(throws: KafkaProtocolError.self, "\(name) cut at \(cut)") {
                        try ProduceRequest.decode(body, version: header.requestApiVersion)
                    }
                case .fetch:
                    #expect(throws: KafkaProtocolError.self, "\(name) cut at \(cut)") {
                        try FetchRequest.decode(body, version: header.requestApiVersion)
                    }
                default: break
                }
            }
        }
        // A compact array that claims more elements than bytes remain.
        var huge = KafkaWriter()
        huge.writeUnsignedVarint(0xFFFF_FFF0)
        #expect(throws: KafkaProtocolError.self) { try MetadataRequest.decode(huge.buffer, version: 12) }
    }
}
