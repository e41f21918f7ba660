/// A record to append: key, value, headers and an optional timestamp.
///
/// A `nil` key is allowed (the record is spread across partitions); a `nil` value is a tombstone.
/// A `nil` timestamp takes the append time.
public struct Record: Sendable, Hashable {
    /// The key, or `nil` (spread across partitions).
    public var key: [UInt8]?
    /// The value, or `nil` for a tombstone.
    public var value: [UInt8]?
    /// Headers, in order.
    public var headers: [RecordHeader]
    /// Milliseconds since the Unix epoch (Kafka's create time), or `nil` for the append time.
    public var timestamp: Int64?

    /// A record of bytes.
    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// A record of UTF-8 text.
    public init(key: String? = nil, value: String, headers: [RecordHeader] = [], timestamp: Int64? = nil) {
        self.init(key: key.map { Array($0.utf8) }, value: Array(value.utf8), headers: headers, timestamp: timestamp)
    }
}
