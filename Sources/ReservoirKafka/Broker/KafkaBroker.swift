import Logging
import NIOCore
import NIOPosix
import Reservoir

/// The APIs of a single-node Kafka broker over a store: it decodes a request's body, does what
/// the API asks of the store, and encodes the response body. One broker serves every connection.
///
/// The node is number 0, the leader of every partition, with leader epoch 0 and itself as the only
/// replica: what a Kafka client needs to produce and fetch, without replication.
public final class KafkaBroker: Sendable {
    /// How the broker answers.
    public struct Configuration: Sendable {
        /// The host and port clients are told to connect to (the Metadata response).
        public var advertisedHost: String
        public var advertisedPort: Int
        /// Create a topic when a client asks for one that does not exist (Metadata, Produce).
        public var autoCreateTopics: Bool
        /// Partitions of an auto-created topic.
        public var defaultPartitions: Int
        /// How long a consumer group's first rebalance waits for more members to join (Kafka's
        /// `group.initial.rebalance.delay.ms`, 3000 ms by default).
        public var groupInitialRebalanceDelayMs: Int

        public init(
            advertisedHost: String = "127.0.0.1", advertisedPort: Int = 9092, autoCreateTopics: Bool = false, defaultPartitions: Int = 1,
            groupInitialRebalanceDelayMs: Int = 3000
        ) {
            self.advertisedHost = advertisedHost
            self.advertisedPort = advertisedPort
            self.autoCreateTopics = autoCreateTopics
            self.defaultPartitions = defaultPartitions
            self.groupInitialRebalanceDelayMs = groupInitialRebalanceDelayMs
        }
    }

    let store: Reservoir
    let configuration: Configuration
    let logger: Logger
    /// The consumer groups Kafka clients form.
    let groups: KafkaGroupCoordinator

    public init(store: Reservoir, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "reservoir.kafka")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        groups = KafkaGroupCoordinator(
            store: store, initialRebalanceDelayMs: configuration.groupInitialRebalanceDelayMs, logger: logger)
        groups.start(on: MultiThreadedEventLoopGroup.singleton.next())
    }

    deinit { groups.stop() }

    /// Ends every group's membership (the server is stopping): waiting requests are answered and
    /// the store's claims on the groups released.
    public func shutdown() { groups.stop() }

    /// The API versions this broker serves: a subset of what Kafka's schemas define. Versions
    /// before record batches (magic 2) and those that address topics by id only are left out.
    public static let supportedVersions: [KafkaAPI: ClosedRange<Int16>] = [
        .apiVersions: 0...4,
        .metadata: 0...12,
        .produce: 3...11,
        .fetch: 4...12,
        .listOffsets: 1...6,
        .createTopics: 0...7,
        .deleteTopics: 0...6,
        .createPartitions: 0...3,
        .deleteRecords: 0...2,
        .describeConfigs: 0...4,
        .offsetForLeaderEpoch: 0...4,
        .findCoordinator: 0...5,
        .joinGroup: 0...9,
        .syncGroup: 0...5,
        .heartbeat: 0...4,
        .leaveGroup: 0...5,
        .offsetCommit: 0...9,
        .offsetFetch: 0...9,
        .listGroups: 0...5,
        .describeGroups: 0...5,
        .deleteGroups: 0...2,
        .initProducerId: 0...5,
    ]

    /// Handles one request: returns the response body (without its header; records of a fetch as
    /// file ranges), or nil when the request expects none (a produce with acks=0).
    func handle(
        _ api: KafkaAPI, version: Int16, body: ByteBuffer, client: KafkaClient = KafkaClient(id: "", host: "")
    ) async throws(KafkaProtocolError) -> KafkaWriter? {
        switch api {
        case .apiVersions: return apiVersions(version: version)
        case .metadata:
            // On the thread pool: a topic created on first use creates and fsyncs files.
            let request = try MetadataRequest.decode(body, version: version)
            return await blocking { self.metadata(request, version: version) }.encodedParts(version: version)
        case .produce:
            return try await produce(ProduceRequest.decode(body, version: version), version: version)?.encodedParts(version: version)
        case .fetch: return try await fetch(FetchRequest.decode(body, version: version), version: version).encodedParts(version: version)
        case .listOffsets:
            return try listOffsets(ListOffsetsRequest.decode(body, version: version), version: version).encodedParts(version: version)
        // Administration creates, renames and fsyncs files: on NIO's thread pool, not on Swift
        // concurrency's cooperative threads.
        case .createTopics:
            let request = try CreateTopicsRequest.decode(body, version: version)
            return await blocking { self.createTopics(request, version: version) }.encodedParts(version: version)
        case .deleteTopics:
            let request = try DeleteTopicsRequest.decode(body, version: version)
            return await blocking { self.deleteTopics(request, version: version) }.encodedParts(version: version)
        case .createPartitions:
            let request = try CreatePartitionsRequest.decode(body, version: version)
            return await blocking { self.createPartitions(request, version: version) }.encodedParts(version: version)
        case .deleteRecords:
            let request = try DeleteRecordsRequest.decode(body, version: version)
            return await blocking { self.deleteRecords(request, version: version) }.encodedParts(version: version)
        case .describeConfigs:
            return try describeConfigs(DescribeConfigsRequest.decode(body, version: version), version: version).encodedParts(
                version: version)
        case .offsetForLeaderEpoch:
            return try offsetForLeaderEpoch(OffsetForLeaderEpochRequest.decode(body, version: version), version: version).encodedParts(
                version: version)
        case .findCoordinator:
            return try findCoordinator(FindCoordinatorRequest.decode(body, version: version), version: version).encodedParts(
                version: version)
        case .joinGroup:
            let request = try JoinGroupRequest.decode(body, version: version)
            return await groups.join(request, version: version, clientId: client.id, clientHost: client.host).encodedParts(version: version)
        case .syncGroup:
            return try await groups.sync(SyncGroupRequest.decode(body, version: version)).encodedParts(version: version)
        case .heartbeat:
            return try groups.heartbeat(HeartbeatRequest.decode(body, version: version)).encodedParts(version: version)
        case .leaveGroup:
            return try groups.leave(LeaveGroupRequest.decode(body, version: version), version: version).encodedParts(version: version)
        case .offsetCommit:
            return try await offsetCommit(OffsetCommitRequest.decode(body, version: version)).encodedParts(version: version)
        case .offsetFetch:
            return try offsetFetch(OffsetFetchRequest.decode(body, version: version), version: version).encodedParts(version: version)
        case .listGroups:
            return try listGroups(ListGroupsRequest.decode(body, version: version), version: version).encodedParts(version: version)
        case .describeGroups:
            return try describeGroups(DescribeGroupsRequest.decode(body, version: version)).encodedParts(version: version)
        case .deleteGroups:
            let request = try DeleteGroupsRequest.decode(body, version: version)
            return await blocking { self.deleteGroups(request) }.encodedParts(version: version)
        case .initProducerId:
            let request = try InitProducerIdRequest.decode(body, version: version)
            return await blocking { self.initProducerId(request) }.encodedParts(version: version)
        case .saslHandshake:
            // Not advertised: the connection handler refuses them before they get here.
            throw .unsupportedRequest(apiKey: api.rawValue, version: version)
        }
    }

    /// Runs `body`, which blocks on file-system calls, on NIO's thread pool.
    func blocking<R: Sendable>(_ body: @escaping @Sendable () -> R) async -> R {
        await withCheckedContinuation { continuation in
            NIOThreadPool.singleton.submit { _ in continuation.resume(returning: body()) }
        }
    }

    /// ApiVersions: the supported ranges; a version this broker does not serve is answered in
    /// version 0 with UNSUPPORTED_VERSION and the ranges, as Kafka does, so the client can retry.
    func apiVersions(version: Int16) -> KafkaWriter {
        var response = ApiVersionsResponse()
        response.apiKeys = Self.supportedVersions.sorted { $0.key.rawValue < $1.key.rawValue }.map { api, range in
            var entry = ApiVersionsResponse.ApiVersion()
            entry.apiKey = api.rawValue
            entry.minVersion = range.lowerBound
            entry.maxVersion = range.upperBound
            return entry
        }
        guard Self.supportedVersions[.apiVersions]?.contains(version) == true else {
            response.errorCode = KafkaErrorCode.unsupportedVersion.rawValue
            return response.encodedParts(version: 0)
        }
        return response.encodedParts(version: version)
    }
}
