import ArgumentParser
import Reservoir

struct TopicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic", abstract: "Create, list and describe topics.",
        subcommands: [Create.self, List.self, Describe.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Topic name: letters, digits, '.', '_' and '-'.") var name: String
        @Option(help: "Number of partitions.") var partitions = 1
        @Option(help: "none or lz4.") var compression = "none"
        @Option(name: .customLong("segment-bytes"), help: "Roll segments at this size.") var segmentBytes = 1 << 30
        @Option(help: "durable, interval:N (records), interval:Tms, or none.") var flush = "none"

        func run() throws {
            guard let codec = CompressionCodec.allCases.first(where: { $0.description == compression }), codec.isSupported else {
                throw ValidationError("--compression must be none or lz4, not \(compression)")
            }
            guard let policy = FlushPolicy(parsing: flush) else {
                throw ValidationError("--flush must be durable, interval:N, interval:Tms or none, not \(flush)")
            }
            let reservoir = try store.open()
            defer { try? reservoir.close() }
            let config = TopicConfig(partitions: partitions, compression: codec, segmentBytes: segmentBytes, flushPolicy: policy)
            try reservoir.createTopic(name, config: config)
            print("created topic \(name) with \(partitions) partition\(partitions == 1 ? "" : "s")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let reservoir = try store.open()
            defer { try? reservoir.close() }
            for name in reservoir.topicNames { print(name) }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a topic's configuration and partitions.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() throws {
            let reservoir = try store.open()
            defer { try? reservoir.close() }
            let topic = try reservoir.topic(name)
            let config = topic.config
            print("topic \(name): partitions=\(config.partitions) compression=\(config.compression) segment-bytes=\(config.segmentBytes) flush=\(config.flushPolicy)")
            print("partition  start-offset  end-offset  segments  bytes")
            for partition in 0..<config.partitions {
                let log = try reservoir.log(topic: name, partition: partition)
                let segments = log.segments
                print("\(pad(partition, 9))  \(pad(log.startOffset, 12))  \(pad(log.endOffset, 10))  \(pad(segments.count, 8))  \(segments.reduce(0) { $0 + $1.bytes })")
            }
        }

        private func pad(_ value: some BinaryInteger, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: " ", count: max(0, width - text.count)) + text
        }
    }
}
