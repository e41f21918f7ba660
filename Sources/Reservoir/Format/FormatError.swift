/// Why a byte string is not a valid record batch.
///
/// The decoder is total: every input either decodes or produces one of these errors. None of them
/// means the process is in danger; they describe the bytes.
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the structure at `position` needs.
    case truncated(position: Int, needed: Int, available: Int)
    /// The magic byte is not 2 (only record batch v2 is supported).
    case badMagic(Int8)
    /// The stored CRC32C does not match the bytes it covers.
    case badCRC(stored: UInt32, computed: UInt32)
    /// A length field points outside the bytes it belongs to.
    case lengthOutOfBounds(field: String, length: Int, available: Int)
    /// The header's record count disagrees with the records present.
    case recordCountMismatch(declared: Int, actual: Int)
    /// A varint runs over its maximum length.
    case varintOverflow(position: Int)
    /// A compression codec this build does not read (gzip, snappy, zstd or an unknown value).
    case unsupportedCompression(codec: Int)
    /// The compressed records section could not be decompressed.
    case decompressionFailed(String)
    /// The records section would decompress to more than the configured limit.
    case decompressedTooLarge(limit: Int)
    /// Bytes remain in the records section after the declared number of records.
    case trailingBytes(count: Int)
    /// A record's fields are inconsistent (negative header count, a body that does not fill its length).
    case invalidRecord(String)

    /// What is wrong with the bytes, as one line.
    public var description: String {
        switch self {
        case .truncated(let position, let needed, let available):
            return "truncated data at byte \(position): needed \(needed) bytes, \(available) available"
        case .badMagic(let magic):
            return "unsupported record batch magic \(magic) (only v2 batches are read)"
        case .badCRC(let stored, let computed):
            return "CRC32C mismatch: stored \(hex(stored)), computed \(hex(computed))"
        case .lengthOutOfBounds(let field, let length, let available):
            return "\(field) \(length) is out of bounds (\(available) bytes available)"
        case .recordCountMismatch(let declared, let actual):
            return "batch declares \(declared) records but holds \(actual)"
        case .varintOverflow(let position):
            return "varint at byte \(position) is longer than allowed"
        case .unsupportedCompression(let codec):
            return "compression codec \(codec) is not supported (none and lz4 are)"
        case .decompressionFailed(let reason):
            return "LZ4 decompression failed: \(reason)"
        case .decompressedTooLarge(let limit):
            return "records section decompresses to more than \(limit) bytes"
        case .trailingBytes(let count):
            return "\(count) bytes follow the last declared record"
        case .invalidRecord(let reason):
            return "invalid record: \(reason)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
