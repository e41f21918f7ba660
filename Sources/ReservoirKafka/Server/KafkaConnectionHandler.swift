import CoreMetrics
import Logging
import NIOCore

/// One client connection: requests are answered one at a time, in the order they came, as Kafka
/// brokers do (a client matches responses to requests by order as well as by correlation id).
/// A request that cannot be parsed closes the connection with a log line; other connections go on.
final class KafkaConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    // Sendable by confinement: every stored var is touched on the channel's event loop only.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = IOData

    private let broker: KafkaBroker
    private let logger: Logger
    private let metrics: KafkaServerMetrics
    private var pending: [ByteBuffer] = []
    private var busy = false
    private var peer = "?"
    /// The peer's address without its port, as DescribeGroups reports a member's host.
    private var host = ""
    /// Runs request tasks on the connection's event loop.
    private let executor: EventLoopTaskExecutor

    init(broker: KafkaBroker, logger: Logger, metrics: KafkaServerMetrics, loop: any EventLoop) {
        self.executor = EventLoopTaskExecutor(loop: loop)
        self.broker = broker
        self.logger = logger
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress.map { "\($0)" } ?? "?"
        host = context.remoteAddress?.ipAddress.map { "/\($0)" } ?? ""
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        metrics.bytesIn.increment(by: Int64(frame.readableBytes + 4))
        pending.append(frame)
        processNext(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("closing connection", metadata: ["peer": "\(peer)", "reason": "\(error)"])
        context.close(promise: nil)
    }

    private func processNext(context: ChannelHandlerContext) {
        guard !busy, !pending.isEmpty else { return }
        busy = true
        var frame = pending.removeFirst()
        let request: (header: RequestHeader, api: KafkaAPI, body: ByteBuffer)
        do {
            request = try Self.parse(&frame)
        } catch {
            logger.warning("closing connection: request does not parse", metadata: ["peer": "\(peer)", "reason": "\(error)"])
            context.close(promise: nil)
            return
        }
        let broker = self.broker
        let client = KafkaClient(id: request.header.clientId ?? "", host: host)
        let loop = context.eventLoop
        let started = ContinuousClock.now
        let promise = loop.makePromise(of: KafkaWriter?.self)
        Task(executorPreference: executor) {
            do {
                promise.succeed(
                    try await broker.handle(request.api, version: request.header.requestApiVersion, body: request.body, client: client))
            } catch {
                promise.fail(error)
            }
        }
        let future = promise.futureResult
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        future.whenComplete { result in
            let (handler, context) = bound.value
            handler.busy = false
            switch result {
            case .success(let body?):
                let response = Self.frame(body, header: request.header, api: request.api)
                handler.metrics.bytesOut.increment(by: Int64(response.byteCount))
                handler.metrics.answered(request.api, nanoseconds: started.duration(to: .now).nanoseconds)
                handler.write(response, context: context)
                handler.processNext(context: context)
            case .success(nil):
                handler.metrics.answered(request.api, nanoseconds: started.duration(to: .now).nanoseconds)
                handler.processNext(context: context)
            case .failure(let error):
                handler.logger.warning(
                    "closing connection: request does not parse",
                    metadata: [
                        "peer": "\(handler.peer)", "api": "\(request.api)", "version": "\(request.header.requestApiVersion)",
                        "reason": "\(error)",
                    ])
                context.close(promise: nil)
            }
        }
    }

    struct UnsupportedRequest: Error, CustomStringConvertible {
        var apiKey: Int16
        var version: Int16
        var description: String { "API key \(apiKey) version \(version) is not served by this broker" }
    }

    /// The request header (v1, or v2 for flexible API versions) and the body after it.
    static func parse(_ frame: inout ByteBuffer) throws -> (header: RequestHeader, api: KafkaAPI, body: ByteBuffer) {
        guard let key = frame.getInteger(at: frame.readerIndex, endianness: .big, as: Int16.self),
            let version = frame.getInteger(at: frame.readerIndex + 2, endianness: .big, as: Int16.self)
        else { throw KafkaProtocolError.truncated(field: "request header", needed: 4, available: frame.readableBytes) }
        guard let api = KafkaAPI(rawValue: key), let served = KafkaBroker.supportedVersions[api],
            served.contains(version) || api == .apiVersions
        else { throw UnsupportedRequest(apiKey: key, version: version) }
        let headerVersion: Int16 = api.firstFlexibleVersion.map { version >= $0 } == true ? 2 : 1
        var reader = KafkaReader(frame)
        let header = try RequestHeader(from: &reader, version: headerVersion)
        return (header, api, reader.remainingBuffer)
    }

    /// The response frame: size, the response header (v1 for flexible versions, except
    /// ApiVersions, whose response header is always v0), the body, its file ranges included.
    static func frame(_ body: KafkaWriter, header: RequestHeader, api: KafkaAPI) -> KafkaWriter {
        let flexible = api != .apiVersions && api.firstFlexibleVersion.map { header.requestApiVersion >= $0 } == true
        var writer = KafkaWriter(capacity: body.buffer.readableBytes + 16)
        writer.writeInt32(0)
        var responseHeader = ResponseHeader()
        responseHeader.correlationId = header.correlationId
        responseHeader.encode(into: &writer, version: flexible ? 1 : 0)
        writer.append(body)
        writer.buffer.setInteger(Int32(writer.byteCount - 4), at: writer.buffer.readerIndex, endianness: .big)
        return writer
    }

    /// Writes a frame: its bytes, and the file ranges between them as `FileRegion`s, which NIO
    /// sends with sendfile(2). The ranges' descriptors stay open until the last write is done.
    private func write(_ frame: KafkaWriter, context: ChannelHandlerContext) {
        guard !frame.files.isEmpty else {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(frame.buffer)), promise: nil)
            return
        }
        var next = frame.buffer.readerIndex
        for file in frame.files {
            if let part = frame.buffer.getSlice(at: next, length: file.index - next), part.readableBytes > 0 {
                context.write(wrapOutboundOut(.byteBuffer(part)), promise: nil)
            }
            context.write(wrapOutboundOut(.fileRegion(file.records.region)), promise: nil)
            next = file.index
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        if let rest = frame.buffer.getSlice(at: next, length: frame.buffer.writerIndex - next), rest.readableBytes > 0 {
            context.write(wrapOutboundOut(.byteBuffer(rest)), promise: done)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: done)
        }
        context.flush()
        // Writes complete in order: the last one done (or failed, on a closed connection) means
        // every file range has been sent or dropped.
        done.futureResult.whenComplete { _ in withExtendedLifetime(frame) {} }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (0 for a negative one).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
