/// The 61-byte header of a Kafka record batch v2 (magic 2), big-endian on disk.
///
/// ```
/// 0  baseOffset int64      | 23 lastOffsetDelta int32 | 51 producerEpoch int16
/// 8  batchLength int32     | 27 baseTimestamp int64   | 53 baseSequence int32
/// 12 leaderEpoch int32     | 35 maxTimestamp int64    | 57 recordCount int32
/// 16 magic int8            | 43 producerId int64      | 61 records ...
/// 17 crc uint32 (CRC32C of bytes 21..end)
/// 21 attributes int16
/// ```
public struct RecordBatchHeader: Sendable, Hashable {
    /// Bytes in the header (Kafka's `RECORD_BATCH_OVERHEAD`).
    public static let size = 61
    /// Bytes before the length field's coverage starts: baseOffset and batchLength (`LOG_OVERHEAD`).
    public static let logOverhead = 12
    /// The only batch format this module reads and writes.
    public static let currentMagic: Int8 = 2

    enum Field {
        static let baseOffset = 0
        static let batchLength = 8
        static let partitionLeaderEpoch = 12
        static let magic = 16
        static let crc = 17
        static let attributes = 21
        static let lastOffsetDelta = 23
        static let baseTimestamp = 27
        static let maxTimestamp = 35
        static let producerId = 43
        static let producerEpoch = 51
        static let baseSequence = 53
        static let recordCount = 57
    }

    /// The offset of the batch's first record.
    public var baseOffset: Int64
    /// Bytes after the length field: the batch's total size minus 12.
    public var batchLength: Int32
    /// The leader epoch Kafka stamps (0 in a store with one writer).
    public var partitionLeaderEpoch: Int32
    /// The format version: 2 for record batches.
    public var magic: Int8
    /// CRC32C of the bytes from the attributes to the end.
    public var crc: UInt32
    /// Compression (bits 0–2), timestamp type, transactional, control and delete-horizon flags.
    public var attributes: Int16
    /// The last record's offset minus ``baseOffset``.
    public var lastOffsetDelta: Int32
    /// The first record's timestamp (the delete horizon when ``hasDeleteHorizon``), ms since the epoch.
    public var baseTimestamp: Int64
    /// The largest record timestamp in the batch, ms since the epoch.
    public var maxTimestamp: Int64
    /// The idempotent producer's id, -1 for none.
    public var producerId: Int64
    /// The idempotent producer's epoch, -1 for none.
    public var producerEpoch: Int16
    /// The first record's sequence number for its producer, -1 for none.
    public var baseSequence: Int32
    /// Records in the batch.
    public var recordCount: Int32

    /// The batch's size in bytes, header included.
    public var totalSize: Int { Int(batchLength) + Self.logOverhead }
    /// The offset of the batch's last record.
    public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }
    /// The compression bits of the attributes.
    public var compressionCodecValue: Int { Int(attributes & 0x07) }
    /// The codec, nil for a value no codec has.
    public var compression: CompressionCodec? { CompressionCodec(rawValue: compressionCodecValue) }
    /// Whether the timestamps are the append time (bit 3) rather than the create time.
    public var isLogAppendTime: Bool { attributes & 0x08 != 0 }
    /// Written by a transactional producer.
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    /// Control batches (transaction markers) take an offset but are never handed to applications.
    public var isControl: Bool { attributes & 0x20 != 0 }
    /// Compaction stamped a delete horizon into ``baseTimestamp`` (Kafka's `hasDeleteHorizonMs`).
    public var hasDeleteHorizon: Bool { attributes & 0x40 != 0 }

    /// Reads the fields at `position` without validating them.
    ///
    /// - Throws: ``FormatError/truncated(position:needed:available:)`` when fewer than 61 bytes remain.
    public static func read(from bytes: UnsafeRawBufferPointer, at position: Int = 0) throws(FormatError) -> Self {
        guard position >= 0, bytes.count - position >= size, let base = bytes.baseAddress else {
            throw .truncated(position: position, needed: size, available: max(0, bytes.count - position))
        }
        return read(unchecked: base + position)
    }

    /// Safe only when 61 bytes are readable at `pointer`; callers check the length first.
    static func read(unchecked pointer: UnsafeRawPointer) -> Self {
        Self(
            baseOffset: BigEndian.load(pointer, Field.baseOffset, as: Int64.self),
            batchLength: BigEndian.load(pointer, Field.batchLength, as: Int32.self),
            partitionLeaderEpoch: BigEndian.load(pointer, Field.partitionLeaderEpoch, as: Int32.self),
            magic: Int8(bitPattern: pointer.load(fromByteOffset: Field.magic, as: UInt8.self)),
            crc: BigEndian.load(pointer, Field.crc, as: UInt32.self),
            attributes: BigEndian.load(pointer, Field.attributes, as: Int16.self),
            lastOffsetDelta: BigEndian.load(pointer, Field.lastOffsetDelta, as: Int32.self),
            baseTimestamp: BigEndian.load(pointer, Field.baseTimestamp, as: Int64.self),
            maxTimestamp: BigEndian.load(pointer, Field.maxTimestamp, as: Int64.self),
            producerId: BigEndian.load(pointer, Field.producerId, as: Int64.self),
            producerEpoch: BigEndian.load(pointer, Field.producerEpoch, as: Int16.self),
            baseSequence: BigEndian.load(pointer, Field.baseSequence, as: Int32.self),
            recordCount: BigEndian.load(pointer, Field.recordCount, as: Int32.self)
        )
    }

    /// Checks the batch that starts at `position`: its length lies inside `bytes`, its magic is 2 and
    /// its CRC32C matches. Returns the header.
    public static func validate(
        _ bytes: UnsafeRawBufferPointer,
        at position: Int = 0,
        verifyCRC: Bool = true
    ) throws(FormatError) -> Self {
        let header = try read(from: bytes, at: position)
        let available = bytes.count - position
        guard header.batchLength >= Int32(size - logOverhead), header.totalSize <= available else {
            throw .lengthOutOfBounds(field: "batch length", length: Int(header.batchLength), available: available - logOverhead)
        }
        guard header.magic == currentMagic else { throw .badMagic(header.magic) }
        // Offsets must not wrap: everything downstream computes `lastOffset + 1`.
        guard header.lastOffsetDelta >= 0, header.baseOffset >= 0,
            header.baseOffset < Int64.max - Int64(header.lastOffsetDelta)
        else {
            throw .lengthOutOfBounds(field: "offset range", length: Int(header.lastOffsetDelta), available: 0)
        }
        guard header.recordCount >= 0 else {
            throw .lengthOutOfBounds(field: "record count", length: Int(header.recordCount), available: available)
        }
        if verifyCRC, let base = bytes.baseAddress {
            let covered = UnsafeRawBufferPointer(
                start: base + position + Field.attributes,
                count: header.totalSize - Field.attributes
            )
            let computed = CRC32C.checksum(covered)
            guard computed == header.crc else { throw .badCRC(stored: header.crc, computed: computed) }
        }
        return header
    }
}
