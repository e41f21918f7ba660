import ArgumentParser
import Dispatch
import Foundation
import Reservoir
import ReservoirKafka
import Synchronization

/// `reservoir mirror`: a store's topics sent, batch by batch as they are stored, to a
/// Kafka-compatible cluster; resumable without duplicates.
struct MirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Send topics' batches, as they are stored, to a Kafka-compatible cluster (idempotent, acks=all).",
        discussion: """
            Prints one line per batch: TOPIC PARTITION SOURCE_FIRST..SOURCE_LAST -> TARGET_BASE. Progress is kept in the store \
            (consumer group reservoir-mirror-HOST:PORT): a mirror started again continues where it stopped and sends nothing twice. \
            Missing topics are created on the cluster with the same partition count.
            """)
    @OptionGroup var store: StoreOptions
    @Argument(help: "The topics to mirror.") var topics: [String]
    @Option(help: "A broker of the cluster, HOST:PORT.") var to: String
    @Option(help: "Where a partition's first mirror starts: earliest, latest, an OFFSET (its batch) or @EPOCH_MS.") var from = "earliest"
    @Flag(help: "Keep mirroring new records until interrupted.") var follow = false

    func run() throws {
        let (host, port) = try ServeCommand.address(to, option: "--to")
        let start = try parseStartPosition(from, option: "--from")
        guard !topics.isEmpty else { throw ValidationError("name at least one topic") }
        let reservoir = try store.open()
        for topic in topics { _ = try reservoir.topic(topic) }
        let options = KafkaMirror.Options(topics: topics, from: start, follow: follow)
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(any Error)?>(nil)
        Task {
            do {
                let mirror = try KafkaMirror(store: reservoir, host: host, port: port, options: options)
                try await mirror.run { sent in
                    Output.write(
                        "\(sent.topic) \(sent.partition) \(sent.source.lowerBound)..\(sent.source.upperBound) -> \(sent.targetBaseOffset < 0 ? "already there" : String(sent.targetBaseOffset))\n"
                    )
                    Output.flush()
                }
            } catch {
                outcome.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        OpenStores.parkIfStopping()
        reservoir.closeOrExit()
        if let error = outcome.withLock({ $0 }) {
            throw CLIFailure("mirror to \(to) stopped: \(error)")
        }
    }
}
