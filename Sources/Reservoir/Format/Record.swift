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

/// A record read back from a log, with the offset and timestamp it was stored at.
public struct LogRecord: Sendable, Hashable {
    /// The record's offset in its partition.
    public var offset: Int64
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// The key, or `nil`.
    public var key: [UInt8]?
    /// The value, or `nil` for a tombstone.
    public var value: [UInt8]?
    /// Headers, in order.
    public var headers: [RecordHeader]

    /// A record as read back.
    public init(offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader]) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}
