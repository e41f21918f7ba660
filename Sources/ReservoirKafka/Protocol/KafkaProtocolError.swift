/// Why bytes received from a client are not a valid Kafka message. The connection that sent them
/// is closed with this reason in the server's log; nothing else is affected.
public enum KafkaProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fewer bytes remain than the field at `position` needs.
    case truncated(field: String, needed: Int, available: Int)
    /// A length or count that is negative (and not the null marker) or larger than what remains.
    case invalidLength(field: String, length: Int64)
    /// A varint longer than its type allows.
    case malformedVarint
    /// A null where the version does not allow one.
    case unexpectedNull(field: String)
    /// Bytes left over after the message.
    case trailingBytes(Int)
    /// A string that is not UTF-8.
    case invalidString
    /// An API or version this broker does not serve.
    case unsupportedRequest(apiKey: Int16, version: Int16)

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let available): "truncated \(field): needs \(needed) bytes, \(available) left"
        case .invalidLength(let field, let length): "invalid \(field) length \(length)"
        case .malformedVarint: "malformed varint"
        case .unexpectedNull(let field): "null \(field) where this version allows none"
        case .trailingBytes(let count): "\(count) bytes after the end of the message"
        case .invalidString: "a string that is not UTF-8"
        case .unsupportedRequest(let key, let version): "API key \(key) version \(version) is not served by this broker"
        }
    }
}
