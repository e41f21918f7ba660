import CLZ4

/// Decompresses an LZ4 frame (any valid one: content size, block and content checksums present or
/// not) into a reused buffer, refusing to produce more than a configured number of bytes.
final class LZ4FrameDecompressor {
    private let context: OpaquePointer
    let output = ByteBuffer(capacity: 256 * 1024)

    init() {
        var context: OpaquePointer?
        let status = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(status) == 0, let context else { fatalError("LZ4F_createDecompressionContext failed") }
        self.context = context
    }

    deinit { LZ4F_freeDecompressionContext(context) }

    /// Decompresses the whole frame in `source`. Returns the number of bytes now in `output`.
    func decompress(_ source: UnsafeRawBufferPointer, limit: Int) throws(FormatError) -> Int {
        guard let sourceBase = source.baseAddress, source.count > 0 else {
            throw .decompressionFailed("empty LZ4 frame")
        }
        output.reserve(min(limit, max(source.count &* 4, 64 * 1024)))
        var consumed = 0
        var produced = 0
        while true {
            var window = min(limit, output.capacity)
            if produced == window {
                guard window < limit else {
                    LZ4F_resetDecompressionContext(context)
                    throw .decompressedTooLarge(limit: limit)
                }
                output.reserve(min(limit, output.capacity &* 2), preserving: produced)
                window = min(limit, output.capacity)
            }
            var sourceSize = source.count - consumed
            var destinationSize = window - produced
            let hint = LZ4F_decompress(
                context, output.base + produced, &destinationSize, sourceBase + consumed, &sourceSize, nil)
            if LZ4F_isError(hint) != 0 {
                LZ4F_resetDecompressionContext(context)
                throw .decompressionFailed(lz4ErrorName(hint))
            }
            consumed += sourceSize
            produced += destinationSize
            if hint == 0 {
                guard consumed == source.count else {
                    throw .decompressionFailed("\(source.count - consumed) bytes follow the end of the frame")
                }
                return produced
            }
            if consumed == source.count && destinationSize == 0 && produced < window {
                LZ4F_resetDecompressionContext(context)
                throw .decompressionFailed("frame is truncated")
            }
        }
    }
}
