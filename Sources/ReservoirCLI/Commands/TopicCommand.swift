import ArgumentParser
import Foundation
import Reservoir

struct TopicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic", abstract: "Create, list, describe and alter topics.",
        subcommands: [Create.self, List.self, Describe.self, Alter.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a topic.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Topic name: letters, digits, '.', '_' and '-'.") var name: String
        @Option(help: "Number of partitions.") var partitions = 1
        @Option(help: "none, gzip, snappy, lz4 or zstd.") var compression = "none"
        @Option(name: .customLong("segment-bytes"), help: "Roll segments at this size.") var segmentBytes = 1 << 30
        @Option(help: "durable, interval:N (records), interval:Tms, or none.") var flush = "none"
        @Option(name: .customLong("set"), help: "Any other setting as key=value (see 'topic alter'); repeatable.")
        var settings: [String] = []

        func run() throws {
            guard let codec = CompressionCodec(name: compression) else {
                throw ValidationError("--compression must be none, gzip, snappy, lz4 or zstd, not \(compression)")
            }
            guard let policy = FlushPolicy(parsing: flush) else {
                throw ValidationError("--flush must be durable, interval:N, interval:Tms or none, not \(flush)")
            }
            let reservoir = try store.open()
            defer { reservoir.closeOrExit() }
            let config = try TopicConfig(partitions: partitions, compression: codec, segmentBytes: segmentBytes, flushPolicy: policy)
                .applying(parseSettings(settings))
            try reservoir.createTopic(name, config: config)
            print("created topic \(name) with \(partitions) partition\(partitions == 1 ? "" : "s")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List topics.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let reservoir = try store.openForReading()
            defer { reservoir.closeOrExit() }
            for name in reservoir.topicNames { print(name) }
            // Topics left closed are listed too, with why, and make the command fail.
            let unreadable = reservoir.unreadableTopics
            for (name, error) in unreadable.sorted(by: { $0.key < $1.key }) { print("\(name)  (not opened: \(error.message))") }
            if !unreadable.isEmpty {
                throw CLIFailure("\(unreadable.count) topic\(unreadable.count == 1 ? "" : "s") not opened: fix the setting named above")
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show a topic's configuration and partitions.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() throws {
            let reservoir = try store.openForReading()
            defer { reservoir.closeOrExit() }
            let config = try reservoir.topic(name).config
            print("topic \(name)")
            for (key, value) in config.settings { print("  \(key)=\(value)") }
            var table = TextTable([
                ("partition", .right), ("start-offset", .right), ("end-offset", .right), ("segments", .right), ("size", .right),
                ("dirty-ratio", .right),
            ])
            for status in try reservoir.status(of: name) {
                let ratio = config.cleanup.contains(.compact) ? String(format: "%.3f", status.dirtyRatio) : "-"
                table.add([
                    "\(status.partition)", "\(status.startOffset)", "\(status.endOffset)", "\(status.segments)",
                    formatBytes(status.bytes), ratio,
                ])
            }
            table.print()
        }

    }

    struct Alter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alter", abstract: "Change settings of a topic.",
            discussion: "Settings (Kafka's name in parentheses works too); partitions can be added, never removed:\n"
                + TopicSetting.all.map { setting in
                    "  \(setting.name)\(setting.kafkaName.map { " (\($0))" } ?? ""): \(setting.expected); default \(setting.defaultValue). \(setting.summary)"
                }.joined(separator: "\n"))
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        @Option(name: .customLong("set"), help: "key=value; repeatable.") var settings: [String] = []

        func run() throws {
            guard !settings.isEmpty else { throw ValidationError("give at least one --set key=value") }
            let parsed = try parseSettings(settings)
            let reservoir = try store.open()
            defer { reservoir.closeOrExit() }
            let config = try reservoir.alterTopic(name, settings: parsed)
            let changed = Set(parsed.map(\.name))
            for (key, value) in config.settings
            where changed.contains(key) || changed.contains(where: { TopicConfig.settingName(for: $0) == key }) {
                print("\(name): \(key)=\(value)")
            }
        }
    }
}

/// Splits `key=value` arguments.
func parseSettings(_ arguments: [String]) throws -> [(name: String, value: String)] {
    try arguments.map { argument in
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw ValidationError("--set takes key=value, not \(argument)")
        }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
