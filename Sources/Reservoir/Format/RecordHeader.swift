/// A record header: a UTF-8 name and an optional value.
public struct RecordHeader: Sendable, Hashable {
    /// The header's name (UTF-8).
    public var key: String
    /// The header's value, or `nil`.
    public var value: [UInt8]?

    /// A header with a byte value.
    public init(_ key: String, _ value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// A header with a UTF-8 value.
    public init(_ key: String, _ value: String) {
        self.init(key, Array(value.utf8))
    }
}
