/// One decoded record: where its fields lie in the batch (or decompression buffer) that holds
/// them. Internal: whoever keeps one also keeps what holds its bytes alive (``ConsumerRecord``
/// keeps the storage; the cleaner, the batch). Applications see records as ``RecordView``, which
/// cannot leave the call that lends it, or as ``ConsumerRecord``.
@usableFromInline
struct DecodedRecord {
    @usableFromInline let offset: Int64
    /// Milliseconds since the Unix epoch.
    @usableFromInline let timestamp: Int64
    @usableFromInline let keyBytes: UnsafeRawBufferPointer?
    @usableFromInline let valueBytes: UnsafeRawBufferPointer?
    let headerBytes: UnsafeRawBufferPointer
    @usableFromInline let headerCount: Int
    /// The whole encoded record, length prefix included (for copying it unchanged).
    let rawBytes: UnsafeRawBufferPointer
    /// The record's bytes from the key length on (for re-encoding it with another timestamp delta).
    let tailBytes: UnsafeRawBufferPointer
    /// The offset relative to the batch's base offset.
    @usableFromInline let offsetDelta: Int32

    @usableFromInline
    init(
        offset: Int64, timestamp: Int64, keyBytes: UnsafeRawBufferPointer?, valueBytes: UnsafeRawBufferPointer?,
        headerBytes: UnsafeRawBufferPointer, headerCount: Int, rawBytes: UnsafeRawBufferPointer, tailBytes: UnsafeRawBufferPointer,
        offsetDelta: Int32
    ) {
        self.offset = offset
        self.timestamp = timestamp
        self.keyBytes = keyBytes
        self.valueBytes = valueBytes
        self.headerBytes = headerBytes
        self.headerCount = headerCount
        self.rawBytes = rawBytes
        self.tailBytes = tailBytes
        self.offsetDelta = offsetDelta
    }

    /// The key's length, or `nil` for a null key.
    var keyCount: Int? { keyBytes?.count }
    /// The value's length, or `nil` for a null value (a tombstone).
    var valueCount: Int? { valueBytes?.count }
    /// A copy of the key.
    var key: [UInt8]? { keyBytes.map { Array($0) } }
    /// A copy of the value.
    var value: [UInt8]? { valueBytes.map { Array($0) } }

    /// Calls `body` with the key's bytes in place (`nil` for a null key).
    func withKey<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try body(keyBytes)
    }

    /// Calls `body` with the value's bytes in place (`nil` for a tombstone).
    func withValue<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        try body(valueBytes)
    }

    /// The headers, decoded. They were validated when the record was read.
    var headers: [RecordHeader] {
        var result: [RecordHeader] = []
        result.reserveCapacity(headerCount)
        var cursor = ByteCursor(headerBytes)
        for _ in 0..<headerCount {
            guard let keyLength = try? cursor.readVarint(), let key = try? cursor.readBytes(Int(keyLength)),
                let valueLength = try? cursor.readVarint()
            else { break }
            var value: [UInt8]?
            if valueLength >= 0 {
                guard let bytes = try? cursor.readBytes(Int(valueLength)) else { break }
                value = Array(bytes)
            }
            result.append(RecordHeader(String(decoding: key, as: UTF8.self), value))
        }
        return result
    }

    /// An owned copy of the record.
    var logRecord: LogRecord {
        LogRecord(offset: offset, timestamp: timestamp, key: key, value: value, headers: headers)
    }
}
