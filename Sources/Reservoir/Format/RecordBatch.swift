/// One encoded record batch: a view of its bytes plus whatever keeps them alive.
///
/// Batches read from a log point into the segment's memory map and keep the mapping alive, so a
/// batch stays readable after its segment is rolled, deleted by retention or closed. Nothing is
/// copied until records are decoded.
public struct RecordBatch: @unchecked Sendable {
    // Sendable by invariant: the bytes are never written after the batch is published, and `owner`
    // keeps them mapped or allocated for as long as any copy of this value exists.
    @usableFromInline let owner: AnyObject?
    @usableFromInline let bytes: UnsafeRawBufferPointer
    /// The batch's header, already validated when the batch came from a log read.
    public let header: RecordBatchHeader

    init(owner: AnyObject?, bytes: UnsafeRawBufferPointer, header: RecordBatchHeader) {
        self.owner = owner
        self.bytes = bytes
        self.header = header
    }

    /// Validates and wraps a standalone encoded batch (copied into memory this value owns).
    ///
    /// - Throws: ``FormatError`` when the bytes are not exactly one valid batch.
    public init(copying encoded: [UInt8], verifyCRC: Bool = true) throws(FormatError) {
        let storage = ByteBuffer(capacity: encoded.count)
        encoded.withUnsafeBytes { source in
            if let base = source.baseAddress, source.count > 0 { storage.base.copyMemory(from: base, byteCount: source.count) }
        }
        let bytes = storage.bytes(count: encoded.count)
        let header = try RecordBatchHeader.validate(bytes, verifyCRC: verifyCRC)
        guard header.totalSize == encoded.count else { throw .trailingBytes(count: encoded.count - header.totalSize) }
        self.init(owner: storage, bytes: bytes, header: header)
    }

    /// The batch's size in bytes.
    public var byteCount: Int { bytes.count }
    /// The offset of the batch's first record.
    public var baseOffset: Int64 { header.baseOffset }
    /// The offset of the batch's last record (kept by compaction even when that record is gone).
    public var lastOffset: Int64 { header.lastOffset }
    /// The offset after this batch's last.
    public var nextOffset: Int64 { header.lastOffset &+ 1 }
    /// The records the header declares.
    public var recordCount: Int { Int(header.recordCount) }

    /// The bytes the batch's CRC covers (from the attributes to the end), when the header read
    /// from its bytes describes bytes that are all there; nil otherwise, for the batch's own check
    /// to report when it is decoded.
    @usableFromInline var checksummedBytes: UnsafeRawBufferPointer? {
        guard let base = bytes.baseAddress, let header = try? RecordBatchHeader.validate(bytes, verifyCRC: false) else { return nil }
        let start = RecordBatchHeader.Field.attributes
        return UnsafeRawBufferPointer(start: base + start, count: header.totalSize - start)
    }

    /// Calls `body` with the batch's encoded bytes, exactly as they are on disk.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(owner) { () throws(E) -> R in try body(bytes) }
    }

    /// A copy of the encoded bytes.
    public var encodedBytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Decodes every record, with a decoder of its own. Use a ``RecordDecoder`` to decode many
    /// batches with one reused decompression buffer.
    public func records() throws(FormatError) -> [LogRecord] {
        try RecordDecoder().records(in: self)
    }
}
