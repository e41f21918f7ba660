/// A record handed to a consumer: where it is in the log, and its key, value and headers, read
/// in place from the segment mapping (or one decompressed copy of its batch) without copying.
///
/// ``key`` and ``value`` copy out on access; ``withKey(_:)`` and ``withValue(_:)`` lend the
/// bytes without copying. A record keeps the memory it points into alive for as long as it exists.
public struct ConsumerRecord: @unchecked Sendable {
    // Sendable by invariant: `view` points into memory `storage` keeps alive and nobody writes.
    /// The topic the record was read from.
    public let topic: String
    /// The partition the record was read from.
    public let partition: Int
    let view: DecodedRecord
    let storage: AnyObject?

    init(topic: String, partition: Int, view: DecodedRecord, storage: AnyObject?) {
        self.topic = topic
        self.partition = partition
        self.view = view
        self.storage = storage
    }

    /// The record's offset in its partition.
    public var offset: Int64 { view.offset }
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64 { view.timestamp }
    /// A copy of the key (nil for a null key).
    public var key: [UInt8]? { withExtendedLifetime(storage) { view.key } }
    /// A copy of the value (nil for a null value: a tombstone).
    public var value: [UInt8]? { withExtendedLifetime(storage) { view.value } }
    /// The key decoded as UTF-8.
    public var keyString: String? { withKey { $0.map { String(decoding: $0, as: UTF8.self) } } }
    /// The value decoded as UTF-8.
    public var valueString: String? { withValue { $0.map { String(decoding: $0, as: UTF8.self) } } }
    /// The key's length, or nil.
    public var keyCount: Int? { view.keyCount }
    /// The value's length, or nil.
    public var valueCount: Int? { view.valueCount }
    /// The headers, copied out.
    public var headers: [RecordHeader] { withExtendedLifetime(storage) { view.headers } }

    /// Calls `body` with the key's bytes in place (nil for a null key); they must not escape.
    public func withKey<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(storage) { () throws(E) -> R in try view.withKey(body) }
    }

    /// Calls `body` with the value's bytes in place (nil for a null value); they must not escape.
    public func withValue<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(storage) { () throws(E) -> R in try view.withValue(body) }
    }

    /// An owned copy as a ``LogRecord``.
    public var logRecord: LogRecord { withExtendedLifetime(storage) { view.logRecord } }
}
