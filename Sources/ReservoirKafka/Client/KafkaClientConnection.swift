import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Why a request to another Kafka broker failed.
public struct KafkaClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A blocking connection to one Kafka broker, for tools that send one request at a time
/// (`reservoir mirror`): requests and responses go through the same generated codecs as the
/// server's, at versions agreed with the broker by ApiVersions.
public final class KafkaClientConnection {
    public let host: String
    public let port: Int
    private let clientId: String
    private let socket: Int32
    private var correlationId: Int32 = 0
    /// The versions the broker serves, by API key.
    private var brokerVersions: [Int16: ClosedRange<Int16>] = [:]

    /// Connects and asks the broker which versions it serves.
    public init(host: String, port: Int, clientId: String = "reservoir", timeoutSeconds: Int = 30) throws(KafkaClientError) {
        self.host = host
        self.port = port
        self.clientId = clientId
        socket = try Self.connect(host: host, port: port, timeoutSeconds: timeoutSeconds)
        let versions = try send(.apiVersions, version: 0, ApiVersionsRequest(), as: ApiVersionsResponse.self)
        guard versions.errorCode == 0 else {
            throw KafkaClientError("\(host):\(port) answered ApiVersions with error \(versions.errorCode)")
        }
        for entry in versions.apiKeys { brokerVersions[entry.apiKey] = entry.minVersion...max(entry.minVersion, entry.maxVersion) }
    }

    deinit { close(socket) }

    /// The highest version of `api` that both the broker and these codecs know.
    public func version(of api: KafkaAPI) throws(KafkaClientError) -> Int16 {
        guard let served = brokerVersions[api.rawValue] else { throw KafkaClientError("\(host):\(port) does not serve \(api)") }
        let ours = api.definedVersions
        let version = min(served.upperBound, ours.upperBound)
        guard version >= served.lowerBound, version >= ours.lowerBound else {
            throw KafkaClientError("\(host):\(port) serves \(api) versions \(served), none of which this client speaks")
        }
        return version
    }

    /// Sends `request` at the agreed version of `api` and returns the broker's answer.
    public func request<Response: KafkaMessage>(_ api: KafkaAPI, _ request: some KafkaMessage, as type: Response.Type)
        throws(KafkaClientError)
        -> (response: Response, version: Int16)
    {
        let version = try version(of: api)
        return (try send(api, version: version, request, as: type), version)
    }

    /// Sends `request` as `version` and reads its response.
    public func send<Response: KafkaMessage>(_ api: KafkaAPI, version: Int16, _ request: some KafkaMessage, as type: Response.Type)
        throws(KafkaClientError) -> Response
    {
        correlationId &+= 1
        let flexible = api.firstFlexibleVersion.map { version >= $0 } == true
        var header = RequestHeader()
        header.requestApiKey = api.rawValue
        header.requestApiVersion = version
        header.correlationId = correlationId
        header.clientId = clientId
        var writer = KafkaWriter()
        writer.writeInt32(0)
        header.encode(into: &writer, version: flexible ? 2 : 1)
        request.encode(into: &writer, version: version)
        var frame = writer.flattened
        frame.setInteger(Int32(frame.readableBytes - 4), at: frame.readerIndex, endianness: .big)
        try write(Array(frame.readableBytesView))
        let sizeBytes = try read(4)
        let size = Int(sizeBytes[0]) << 24 | Int(sizeBytes[1]) << 16 | Int(sizeBytes[2]) << 8 | Int(sizeBytes[3])
        guard size >= 4, size <= 200 << 20 else { throw KafkaClientError("\(host):\(port) sent a response frame of \(size) bytes") }
        var reader = KafkaReader(ByteBuffer(bytes: try read(size)))
        let responseHeader: ResponseHeader
        let response: Response
        do throws(KafkaProtocolError) {
            // ApiVersions answers with header v0 whatever the version, so that any client can read it.
            responseHeader = try ResponseHeader(from: &reader, version: flexible && api != .apiVersions ? 1 : 0)
            response = try Response.decode(reader.remainingBuffer, version: version)
        } catch {
            throw KafkaClientError("\(host):\(port) sent a \(api) response that does not parse: \(error)")
        }
        guard responseHeader.correlationId == correlationId else {
            throw KafkaClientError("\(host):\(port) answered request \(correlationId) with \(responseHeader.correlationId)")
        }
        return response
    }

    private static func connect(host: String, port: Int, timeoutSeconds: Int) throws(KafkaClientError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw KafkaClientError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        var reason = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let descriptor = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard descriptor >= 0 else { continue }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return descriptor }
            reason = String(cString: strerror(errno))
            close(descriptor)
        }
        throw KafkaClientError("cannot connect to \(host):\(port): \(reason)")
    }

    private func write(_ bytes: [UInt8]) throws(KafkaClientError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw KafkaClientError("sending to \(host):\(port) failed: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    private func read(_ count: Int) throws(KafkaClientError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + filled, count - filled, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw KafkaClientError(
                    got == 0
                        ? "\(host):\(port) closed the connection"
                        : "reading from \(host):\(port) failed: \(String(cString: strerror(errno)))")
            }
            filled += got
        }
        return bytes
    }
}
