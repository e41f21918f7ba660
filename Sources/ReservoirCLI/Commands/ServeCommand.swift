import ArgumentParser
import Dispatch
import Foundation
import Logging
import Reservoir
import ReservoirKafka
import Synchronization

/// `reservoir serve`: the store as a single-node Kafka broker, until SIGINT or SIGTERM (which
/// close the store cleanly; a second signal exits at once, and recovery covers it).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the store over Kafka's wire protocol (produce, fetch, metadata, offsets).",
        discussion: "Logs one line when ready: 'listening on HOST:PORT'. Kafka clients bootstrap from --advertise (default: --listen).")
    @OptionGroup var store: StoreOptions
    @Option(help: "Address to listen on, HOST:PORT (port 0 takes a free one).") var listen = "127.0.0.1:9092"
    @Option(help: "Address clients are told to connect to, HOST:PORT (default: --listen).") var advertise: String?
    @Flag(help: "Create a topic when a client asks for one that does not exist.") var autoCreateTopics = false
    @Option(help: "Partitions of an auto-created topic.") var defaultPartitions = 1
    @Option(help: "How long a consumer group's first rebalance waits for more members (Kafka's group.initial.rebalance.delay.ms).")
    var groupInitialRebalanceDelayMs = 3000

    func run() throws {
        let (host, port) = try Self.address(listen, option: "--listen")
        let advertised = try advertise.map { try Self.address($0, option: "--advertise") }
        guard defaultPartitions >= 1 else { throw ValidationError("--default-partitions must be at least 1") }
        guard groupInitialRebalanceDelayMs >= 0 else { throw ValidationError("--group-initial-rebalance-delay-ms must not be negative") }
        let reservoir = try store.open()
        var logger = Logger(label: "reservoir.kafka")
        logger.logLevel = .info
        let configuration = KafkaServer.Configuration(
            host: host, port: port,
            broker: KafkaBroker.Configuration(
                advertisedHost: advertised?.host ?? host, advertisedPort: advertised?.port ?? port,
                autoCreateTopics: autoCreateTopics, defaultPartitions: defaultPartitions,
                groupInitialRebalanceDelayMs: groupInitialRebalanceDelayMs))
        let started = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<KafkaServer, any Error>?>(nil)
        Task {
            let result = await Result { try await KafkaServer.start(store: reservoir, configuration: configuration, logger: logger) }
            outcome.withLock { $0 = result }
            started.signal()
        }
        started.wait()
        guard let result = outcome.withLock({ $0 }) else { throw CLIFailure("the server did not start") }
        switch result {
        case .failure(let error):
            reservoir.closeOrExit()
            throw CLIFailure("cannot listen on \(listen): \(error)")
        case .success(let server):
            // Served until a signal: the server stops listening and closes its connections, then
            // the store is flushed and closed cleanly (see OpenStores).
            OpenStores.whenStopping {
                let stopped = DispatchSemaphore(value: 0)
                Task {
                    try? await server.shutdown()
                    stopped.signal()
                }
                _ = stopped.wait(timeout: .now() + 5)
            }
            while true { pause() }
        }
    }

    static func address(_ text: String, option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(option) takes HOST:PORT, not \(text)")
        }
        return (String(text[..<colon]), port)
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
