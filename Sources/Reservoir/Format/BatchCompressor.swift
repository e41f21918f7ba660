import CSnappy
import CZlib
import CZstd

/// Compresses a batch's records section in a topic's codec, in the form Kafka's Java producer
/// writes, so that every Kafka client reads it: an LZ4 frame (``LZ4FrameCompressor``), a gzip
/// stream, snappy in the xerial framing of Kafka's Java client (32 KiB blocks), or one zstd frame.
///
/// Owns its contexts and reuses them for every batch; not thread-safe (one per encoder).
final class BatchCompressor {
    let codec: CompressionCodec
    private let level: Int32
    private let lz4: LZ4FrameCompressor?
    private var zstd: OpaquePointer?

    /// - Parameter level: the codec's level; 0 takes the codec's default (LZ4 fast mode, gzip 6,
    ///   zstd 3). Snappy has none.
    init(codec: CompressionCodec, level: Int) {
        self.codec = codec
        self.level = Int32(clamping: level)
        lz4 = codec == .lz4 ? LZ4FrameCompressor(level: Int32(clamping: level)) : nil
    }

    deinit { if let zstd { ZSTD_freeCCtx(zstd) } }

    /// Snappy blocks of Kafka's Java framing hold this much input each.
    static let snappyBlockBytes = 32 * 1024

    /// The most bytes compressing `count` bytes can produce.
    func bound(_ count: Int) -> Int {
        switch codec {
        case .none: count
        case .lz4: lz4?.bound(count) ?? count
        case .gzip: Int(compressBound(uLong(count))) + 32  // plus the gzip header and trailer
        case .zstd: ZSTD_compressBound(count)
        case .snappy:
            16 + (count / Self.snappyBlockBytes + 1) * (4 + snappy_max_compressed_length(Self.snappyBlockBytes))
        }
    }

    /// Compresses `source` into `destination` (``bound(_:)`` bytes); returns the size written.
    func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        switch codec {
        case .none:
            if let from = source.baseAddress { destination.copyMemory(from: from, byteCount: source.count) }
            return source.count
        case .lz4:
            return lz4?.compress(source, into: destination, capacity: capacity) ?? 0
        case .gzip:
            return gzip(source, into: destination, capacity: capacity)
        case .snappy:
            return snappy(source, into: destination)
        case .zstd:
            let context = zstd ?? ZSTD_createCCtx()
            zstd = context
            let written = ZSTD_compressCCtx(context, destination, capacity, source.baseAddress, source.count, level == 0 ? 3 : level)
            // The bound makes room for any input: an error here is a broken invariant, not data.
            precondition(ZSTD_isError(written) == 0, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
            return written
        }
    }

    private func gzip(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        var stream = z_stream()
        // 15 + 16: the largest window with a gzip header, as Java's GZIPOutputStream writes.
        let started = deflateInit2_(
            &stream, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
            Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(started == Z_OK, "zlib deflateInit2 failed: \(started)")
        defer { deflateEnd(&stream) }
        // Safe: zlib reads `avail_in` bytes from `next_in` and never writes through it.
        stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(source.count)
        stream.next_out = destination.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(capacity)
        let status = deflate(&stream, Z_FINISH)
        precondition(status == Z_STREAM_END, "zlib deflate did not finish within its bound: \(status)")
        return capacity - Int(stream.avail_out)
    }

    private func snappy(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer) -> Int {
        var position = 0
        for byte in BatchDecompressor.xerialMagic {
            destination.storeBytes(of: byte, toByteOffset: position, as: UInt8.self)
            position += 1
        }
        BigEndian.store(Int32(1), destination, position)  // version
        BigEndian.store(Int32(1), destination, position + 4)  // compatible version
        position += 8
        var start = 0
        while start < source.count {
            let count = min(Self.snappyBlockBytes, source.count - start)
            var length = snappy_max_compressed_length(count)
            let status = snappy_compress(
                (source.baseAddress! + start).assumingMemoryBound(to: CChar.self), count,
                (destination + position + 4).assumingMemoryBound(to: CChar.self), &length)
            precondition(status == SNAPPY_OK, "snappy_compress failed within its bound")
            BigEndian.store(Int32(length), destination, position)
            position += 4 + length
            start += count
        }
        return position
    }
}
