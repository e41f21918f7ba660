import NIOCore

/// Splits a connection's bytes into Kafka request frames: a 4-byte big-endian size, then that
/// many bytes. A size below the smallest header or above the limit is a protocol error: the
/// connection is closed (with a log line), since no later frame boundary can be trusted.
struct KafkaFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// The largest request accepted (Kafka's `socket.request.max.bytes`, 100 MiB).
    let maxFrameBytes: Int

    struct FrameError: Error, CustomStringConvertible {
        var size: Int32
        var limit: Int
        var description: String { "request frame of \(size) bytes (the limit is \(limit))" }
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return .needMoreData }
        // An int16 key, an int16 version and an int32 correlation id at the least.
        guard size >= 8, Int(size) <= maxFrameBytes else { throw FrameError(size: size, limit: maxFrameBytes) }
        guard buffer.readableBytes >= 4 + Int(size) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(size)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}
