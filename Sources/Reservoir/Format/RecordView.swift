/// One decoded record, borrowed from the batch (or decompression buffer) that holds it.
///
/// A view is lent to the body of ``RecordDecoder/forEachRecord(in:verifyCRC:includingControl:_:)``
/// and cannot outlive that call (it is noncopyable and only borrowed, so it can be neither
/// stored nor returned): its key, value and headers are read in place, without copying, which is
/// what makes iteration allocation-free. Copy what you keep with ``key``, ``value`` or
/// ``logRecord``.
public struct RecordView: ~Copyable {
    /// The fields (a copy is what the store's internals keep, with what holds the bytes).
    @usableFromInline let record: DecodedRecord

    @inlinable
    init(_ record: DecodedRecord) { self.record = record }

    var keyBytes: UnsafeRawBufferPointer? { record.keyBytes }
    var valueBytes: UnsafeRawBufferPointer? { record.valueBytes }
    var rawBytes: UnsafeRawBufferPointer { record.rawBytes }

    /// The record's offset in its partition.
    @inlinable public var offset: Int64 { record.offset }
    /// Milliseconds since the Unix epoch.
    @inlinable public var timestamp: Int64 { record.timestamp }
    /// The number of headers.
    @inlinable public var headerCount: Int { record.headerCount }
    /// The key's length, or `nil` for a null key.
    @inlinable public var keyCount: Int? { record.keyBytes?.count }
    /// The value's length, or `nil` for a null value (a tombstone).
    @inlinable public var valueCount: Int? { record.valueBytes?.count }
    /// A copy of the key.
    public var key: [UInt8]? { record.key }
    /// A copy of the value.
    public var value: [UInt8]? { record.value }
    /// The headers, decoded.
    public var headers: [RecordHeader] { record.headers }
    /// An owned copy of the record.
    public var logRecord: LogRecord { record.logRecord }

    /// Calls `body` with the key's bytes in place (`nil` for a null key).
    @inlinable
    public func withKey<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try body(record.keyBytes)
    }

    /// Calls `body` with the value's bytes in place (`nil` for a tombstone).
    @inlinable
    public func withValue<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try body(record.valueBytes)
    }
}
