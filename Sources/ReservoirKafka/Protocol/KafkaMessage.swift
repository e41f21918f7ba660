import NIOCore

/// A request or response of Kafka's protocol whose codec is generated from Kafka's schema
/// (`Scripts/generate-kafka-messages.py`).
public protocol KafkaMessage: Sendable {
    /// The API key the message belongs to.
    static var apiKey: Int16 { get }
    /// The versions Kafka's schema defines.
    static var versions: ClosedRange<Int16> { get }
    /// The first version with compact encodings and tagged fields, if any.
    static var firstFlexibleVersion: Int16? { get }
    /// Decodes the message of `version`.
    init(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError)
    /// Encodes the message as `version` lays it out.
    func encode(into writer: inout KafkaWriter, version: Int16)
}

extension KafkaMessage {
    /// Decodes a whole message: the bytes must hold exactly one.
    public static func decode(_ buffer: ByteBuffer, version: Int16) throws(KafkaProtocolError) -> Self {
        var reader = KafkaReader(buffer)
        let message = try Self(from: &reader, version: version)
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return message
    }

    /// The message's bytes as `version` lays them out, in memory (records read from segment
    /// files copied in).
    public func encoded(version: Int16) -> ByteBuffer {
        encodedParts(version: version).flattened
    }

    /// The message as `version` lays it out, with records read from segment files left as file
    /// ranges for the server to send with sendfile(2).
    public func encodedParts(version: Int16) -> KafkaWriter {
        var writer = KafkaWriter()
        encode(into: &writer, version: version)
        return writer
    }
}
