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
        precondition(LZ4F_isError(written) == 0, "LZ4F_compressBegin: \(lz4ErrorName(written))")
        let update = LZ4F_compressUpdate(
            context, destination + written, capacity - written, source.baseAddress, source.count, nil)
        precondition(LZ4F_isError(update) == 0, "LZ4F_compressUpdate: \(lz4ErrorName(update))")
        written += update
        let end = LZ4F_compressEnd(context, destination + written, capacity - written, nil)
        precondition(LZ4F_isError(end) == 0, "LZ4F_compressEnd: \(lz4ErrorName(end))")
        return written + end
    }
}

func lz4ErrorName(_ code: Int) -> String {
    String(cString: LZ4F_getErrorName(code))
}
