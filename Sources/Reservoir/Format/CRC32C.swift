import CCRC32C

/// CRC-32C (Castagnoli), the checksum of Kafka's record batch v2.
public enum CRC32C {
    /// Whether this processor's CRC32 instruction is used.
    public static var isHardwareAccelerated: Bool { reservoir_crc32c_hardware_available() != 0 }

    /// Whether the checksum of 256 bytes or more folds with carry-less multiplication
    /// (VPCLMULQDQ with AVX2), which takes a batch in one pass fast enough that checking it ahead,
    /// in steps spread over the batch before (``ChecksumAhead``), costs more than it hides.
    @usableFromInline static let foldsCarrylessly = reservoir_crc32c_folding_available() != 0

    /// The checksum of `bytes`, continuing from `crc` (start from 0).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return reservoir_crc32c(crc, base, bytes.count)
    }

    /// The checksum of `bytes`, continuing from `crc`, after asking the processor to bring
    /// `ahead` into its caches (a hint: the bytes need not be readable) for a later call.
    @usableFromInline
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32, prefetching ahead: UnsafeRawBufferPointer)
        -> UInt32
    {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return reservoir_crc32c_prefetching(crc, base, bytes.count, ahead.baseAddress, ahead.count)
    }

    /// The checksum of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
