import CLZ4

/// Compresses a records section into one LZ4 frame exactly as Kafka's `Lz4BlockOutputStream` does:
/// FLG 0x60 (version 1, independent blocks, no block or content checksum, no content size),
/// BD 0x40 (64 KiB blocks), then the blocks and the end mark.
///
/// One compressor owns an `LZ4F_cctx` and is reused for every batch; it is not thread-safe.
final class LZ4FrameCompressor {
    private let context: OpaquePointer
    private var preferences: LZ4F_preferences_t

    /// - Parameter level: 0 for LZ4's fast mode (Kafka's producers use fast mode), 3…12 for LZ4-HC,
    ///   negative values for faster, lighter compression.
    init(level: Int32 = 0) {
        var context: OpaquePointer?
        let status = LZ4F_createCompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(status) == 0, let context else { fatalError("LZ4F_createCompressionContext failed") }
        self.context = context
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum
        preferences.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum
        preferences.frameInfo.contentSize = 0
        preferences.compressionLevel = level
        preferences.autoFlush = 1
        self.preferences = preferences
    }

    deinit { LZ4F_freeCompressionContext(context) }

    /// The most bytes a frame over `count` input bytes can take.
    func bound(_ count: Int) -> Int {
        LZ4F_compressFrameBound(count, &preferences) + 32
    }

    /// Compresses `source` into `destination`, which must hold `bound(source.count)` bytes.
    /// Returns the frame's size.
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        var written = LZ4F_compressBegin(context, destination, capacity, &preferences)
        precondition(LZ4F_isError(written) == 0, "LZ4F_compressBegin: \(errorName(written))")
        let update = LZ4F_compressUpdate(
            context, destination + written, capacity - written, source.baseAddress, source.count, nil)
        precondition(LZ4F_isError(update) == 0, "LZ4F_compressUpdate: \(errorName(update))")
        written += update
        let end = LZ4F_compressEnd(context, destination + written, capacity - written, nil)
        precondition(LZ4F_isError(end) == 0, "LZ4F_compressEnd: \(errorName(end))")
        return written + end
    }
}

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
                throw .decompressionFailed(errorName(hint))
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

private func errorName(_ code: Int) -> String {
    String(cString: LZ4F_getErrorName(code))
}
