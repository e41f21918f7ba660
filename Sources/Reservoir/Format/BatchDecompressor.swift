import CSnappy
import CZlib
import CZstd

/// Decompresses the records section of a batch in any of Kafka's codecs into one reused buffer,
/// refusing to produce more than a limit (a corrupt or hostile batch cannot exhaust memory).
///
/// - gzip: a gzip stream (RFC 1952, as Java's `GZIPOutputStream` writes it; zlib streams too).
/// - snappy: Kafka's Java framing (xerial's `SnappyOutputStream`: an 8-byte magic, two versions,
///   then length-prefixed blocks) or a raw snappy block.
/// - lz4: an LZ4 frame (``LZ4FrameDecompressor``).
/// - zstd: one or more zstd frames, content size present or not.
///
/// Owns its decompression contexts; not thread-safe (one per decoder).
final class BatchDecompressor {
    let output = ByteBuffer(capacity: 256 * 1024)
    private var lz4: LZ4FrameDecompressor?
    private var zstd: OpaquePointer?

    deinit { if let zstd { ZSTD_freeDCtx(zstd) } }

    /// Decompresses `source`, compressed with `codec`; returns the bytes now in ``output`` (or, for
    /// LZ4, in the LZ4 decompressor's buffer, which `bytes(count:)` gives).
    func decompress(_ source: UnsafeRawBufferPointer, codec: CompressionCodec, limit: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        switch codec {
        case .none:
            return source
        case .lz4:
            let decompressor = lz4 ?? LZ4FrameDecompressor()
            lz4 = decompressor
            let count = try decompressor.decompress(source, limit: limit)
            return decompressor.output.bytes(count: count)
        case .gzip:
            return output.bytes(count: try gunzip(source, limit: limit))
        case .snappy:
            return output.bytes(count: try unsnappy(source, limit: limit))
        case .zstd:
            return output.bytes(count: try unzstd(source, limit: limit))
        }
    }

    /// Makes room for `needed` bytes after `produced`, within `limit`.
    private func grow(_ produced: Int, needing needed: Int, limit: Int) throws(FormatError) {
        guard produced &+ needed <= limit else { throw .decompressedTooLarge(limit: limit) }
        if produced + needed > output.capacity {
            output.reserve(min(limit, max(produced + needed, output.capacity &* 2)), preserving: produced)
        }
    }

    // MARK: gzip

    private func gunzip(_ source: UnsafeRawBufferPointer, limit: Int) throws(FormatError) -> Int {
        guard let input = source.baseAddress, source.count > 0 else { throw .decompressionFailed("empty gzip stream") }
        var stream = z_stream()
        // 15 + 32: the largest window, and a gzip or zlib header detected automatically.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .decompressionFailed("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        // Safe: zlib only reads `avail_in` bytes from `next_in`; it never writes through it.
        stream.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(source.count)
        var produced = 0
        while true {
            if produced == output.capacity { try grow(produced, needing: max(64 * 1024, produced), limit: limit) }
            let window = min(output.capacity, limit) - produced
            guard window > 0 else { throw .decompressedTooLarge(limit: limit) }
            stream.next_out = (output.base + produced).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(window)
            let status = inflate(&stream, Z_NO_FLUSH)
            produced += window - Int(stream.avail_out)
            switch status {
            case Z_STREAM_END:
                guard stream.avail_in == 0 else { throw .decompressionFailed("\(stream.avail_in) bytes follow the gzip stream") }
                return produced
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw .decompressionFailed("gzip stream is truncated")
            case Z_BUF_ERROR:
                if produced >= limit { throw .decompressedTooLarge(limit: limit) }
                try grow(produced, needing: 64 * 1024, limit: limit)
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw .decompressionFailed("gzip: \(reason)")
            }
        }
    }

    // MARK: snappy

    /// The magic that starts Kafka's Java snappy framing (xerial snappy-java).
    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]

    private func unsnappy(_ source: UnsafeRawBufferPointer, limit: Int) throws(FormatError) -> Int {
        if source.count >= 16, let base = source.baseAddress, source.prefix(8).elementsEqual(Self.xerialMagic) {
            var position = 16  // magic, version, compatible version
            var produced = 0
            while position < source.count {
                guard source.count - position >= 4 else { throw .decompressionFailed("snappy block length is truncated") }
                let length = Int(BigEndian.load(base + position, 0, as: UInt32.self))
                position += 4
                guard length <= source.count - position else {
                    throw .lengthOutOfBounds(field: "snappy block", length: length, available: source.count - position)
                }
                produced += try unsnappyBlock(
                    UnsafeRawBufferPointer(rebasing: source[position..<(position + length)]), at: produced, limit: limit)
                position += length
            }
            return produced
        }
        return try unsnappyBlock(source, at: 0, limit: limit)
    }

    /// Decompresses one raw snappy block to `output` at `offset`; returns its size.
    private func unsnappyBlock(_ block: UnsafeRawBufferPointer, at offset: Int, limit: Int) throws(FormatError) -> Int {
        guard let input = block.baseAddress, block.count > 0 else { throw .decompressionFailed("empty snappy block") }
        let pointer = input.assumingMemoryBound(to: CChar.self)
        var length = 0
        guard snappy_uncompressed_length(pointer, block.count, &length) == SNAPPY_OK else {
            throw .decompressionFailed("snappy block header is invalid")
        }
        try grow(offset, needing: length, limit: limit)
        var written = length
        guard snappy_uncompress(pointer, block.count, (output.base + offset).assumingMemoryBound(to: CChar.self), &written) == SNAPPY_OK,
            written == length
        else {
            throw .decompressionFailed("snappy block is invalid")
        }
        return length
    }

    // MARK: zstd

    private func unzstd(_ source: UnsafeRawBufferPointer, limit: Int) throws(FormatError) -> Int {
        guard source.count > 0 else { throw .decompressionFailed("empty zstd frame") }
        let context = zstd ?? ZSTD_createDCtx()
        guard let context else { throw .decompressionFailed("zstd could not start") }
        zstd = context
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
        var produced = 0
        var frameDone = false
        while input.pos < input.size || !frameDone {
            if produced == output.capacity { try grow(produced, needing: max(64 * 1024, produced), limit: limit) }
            let window = min(output.capacity, limit)
            guard window > produced else { throw .decompressedTooLarge(limit: limit) }
            var out = ZSTD_outBuffer(dst: output.base, size: window, pos: produced)
            let before = (input.pos, produced)
            let hint = ZSTD_decompressStream(context, &out, &input)
            if ZSTD_isError(hint) != 0 {
                throw .decompressionFailed("zstd: \(String(cString: ZSTD_getErrorName(hint)))")
            }
            produced = out.pos
            frameDone = hint == 0
            if !frameDone && input.pos == input.size && before == (input.pos, produced) && produced < window {
                throw .decompressionFailed("zstd frame is truncated")
            }
        }
        return produced
    }
}
