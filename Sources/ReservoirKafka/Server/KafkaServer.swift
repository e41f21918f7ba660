import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Reservoir

/// A single-node Kafka broker serving a store over Kafka's wire protocol, on SwiftNIO.
///
/// ```swift
/// let store = try Reservoir.open(at: "/var/lib/shop/events")
/// let server = try await KafkaServer.start(store: store, configuration: .init(host: "127.0.0.1", port: 9092))
/// // Kafka clients in other processes produce and fetch at 127.0.0.1:9092.
/// try await server.shutdown()
/// try store.close()
/// ```
///
/// The store stays the application's: the server never closes it.
public final class KafkaServer: Sendable {
    /// How the server listens and what it accepts.
    public struct Configuration: Sendable {
        public var host: String
        /// 0 takes a free port (see ``KafkaServer/port``).
        public var port: Int
        /// The broker's answers: advertised address, topic auto-creation.
        public var broker: KafkaBroker.Configuration
        /// The largest request frame accepted (Kafka's `socket.request.max.bytes`, 100 MiB).
        public var maxRequestBytes: Int
        /// Connections served at once; further ones are closed at once, with a log line.
        public var maxConnections: Int

        public init(
            host: String = "127.0.0.1", port: Int = 9092, broker: KafkaBroker.Configuration? = nil, maxRequestBytes: Int = 100 << 20,
            maxConnections: Int = 1024
        ) {
            self.host = host
            self.port = port
            self.broker = broker ?? KafkaBroker.Configuration(advertisedHost: host, advertisedPort: port)
            self.maxRequestBytes = maxRequestBytes
            self.maxConnections = maxConnections
        }
    }

    private let channel: any Channel
    private let connections: ConnectionCount
    private let broker: KafkaBroker
    private let logger: Logger
    /// The port the server listens on.
    public let port: Int

    private init(channel: any Channel, connections: ConnectionCount, broker: KafkaBroker, logger: Logger) {
        self.channel = channel
        self.connections = connections
        self.broker = broker
        self.logger = logger
        port = channel.localAddress?.port ?? 0
    }

    /// Starts serving `store` and returns once the server listens.
    public static func start(
        store: Reservoir, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "reservoir.kafka")
    ) async throws -> KafkaServer {
        let connections = ConnectionCount(limit: configuration.maxConnections)
        let metrics = KafkaServerMetrics()
        // The advertised port follows the one bound when the caller asked for any free one.
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        let holder = BrokerHolder()
        let channel = try await bootstrap.childChannelInitializer { child in
            guard connections.open(child) else {
                metrics.refused.increment()
                logger.warning("refusing a connection: at the connection limit", metadata: ["limit": "\(configuration.maxConnections)"])
                return child.close()
            }
            metrics.connections.record(connections.all.count)
            child.closeFuture.whenComplete { _ in
                connections.close(child)
                metrics.connections.record(connections.all.count)
            }
            guard let broker = holder.broker else { return child.close() }
            return child.eventLoop.makeCompletedFuture {
                try child.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(KafkaFrameDecoder(maxFrameBytes: configuration.maxRequestBytes)))
                try child.pipeline.syncOperations.addHandler(
                    KafkaConnectionHandler(broker: broker, logger: logger, metrics: metrics, loop: child.eventLoop))
            }
        }.bind(host: configuration.host, port: configuration.port).get()
        let bound = channel.localAddress?.port ?? configuration.port
        var brokerConfiguration = configuration.broker
        if configuration.port == 0 && brokerConfiguration.advertisedPort == 0 { brokerConfiguration.advertisedPort = bound }
        let broker = KafkaBroker(store: store, configuration: brokerConfiguration, logger: logger)
        holder.set(broker)
        let server = KafkaServer(channel: channel, connections: connections, broker: broker, logger: logger)
        logger.info("listening on \(configuration.host):\(bound)")
        return server
    }

    /// Stops accepting connections, closes the open ones (a request in progress is answered
    /// first only if it finishes before its connection closes), and returns when it is done.
    public func shutdown() async throws {
        try await channel.close()
        for child in connections.all { try? await child.close() }
        // Group members are gone with their connections; the store's claims on their groups end.
        broker.shutdown()
        logger.info("stopped serving")
    }
}

import Synchronization

/// The broker, set once the listening port is known (connections arriving before get closed).
private final class BrokerHolder: Sendable {
    private let value = Mutex<KafkaBroker?>(nil)
    var broker: KafkaBroker? { value.withLock { $0 } }
    func set(_ broker: KafkaBroker) { value.withLock { $0 = broker } }
}

/// The open connections, against the limit.
private final class ConnectionCount: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])
    let limit: Int
    init(limit: Int) { self.limit = limit }
    func open(_ channel: any Channel) -> Bool {
        open.withLock { open in
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
    }
    func close(_ channel: any Channel) { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
    var all: [any Channel] { open.withLock { Array($0.values) } }
}
