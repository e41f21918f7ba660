import ArgumentParser
import Foundation
import Reservoir

struct GroupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "List, describe, reset and delete consumer groups.",
        subcommands: [List.self, Describe.self, Reset.self, Delete.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Consumer groups with committed offsets.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let reservoir = try store.openForReading()
            defer { reservoir.closeOrExit() }
            for group in reservoir.consumerGroups { print(group) }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "describe", abstract: "Per partition: committed offset, end offset, lag, member.")
        @OptionGroup var store: StoreOptions
        @Argument var group: String

        func run() throws {
            let reservoir = try store.openForReading()
            defer { reservoir.closeOrExit() }
            var table = TextTable([
                ("topic", .left), ("partition", .right), ("committed", .right), ("end-offset", .right), ("lag", .right),
                ("member", .left),
            ])
            for status in try reservoir.describeGroup(group) {
                table.add([
                    status.partition.topic, "\(status.partition.partition)", status.committed.map(String.init) ?? "-",
                    "\(status.endOffset)", "\(status.lag)", status.member ?? "-",
                ])
            }
            table.print()
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reset", abstract: "Set a group's committed offsets for a topic.")
        @OptionGroup var store: StoreOptions
        @Argument var group: String
        @Option(help: "The topic whose offsets to reset.") var topic: String
        @Option(help: "earliest, latest, an OFFSET, or @EPOCH_MS.") var to: String

        func run() throws {
            let position = try parseStartPosition(to, option: "--to")
            let reservoir = try store.open()
            defer { reservoir.closeOrExit() }
            try reservoir.resetGroupOffsets(group: group, topic: topic, to: position)
            for status in try reservoir.describeGroup(group) where status.partition.topic == topic {
                print("\(status.partition): committed \(status.committed.map(String.init) ?? "-")")
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a group's committed offsets.")
        @OptionGroup var store: StoreOptions
        @Argument var group: String

        func run() throws {
            let reservoir = try store.open()
            defer { reservoir.closeOrExit() }
            try reservoir.deleteGroup(group)
            print("deleted group \(group)")
        }
    }
}

/// Parses earliest, latest, an offset or @EPOCH_MS.
func parseStartPosition(_ text: String, option: String) throws -> StartPosition {
    switch text {
    case "earliest": return .earliest
    case "latest": return .latest
    default:
        if text.hasPrefix("@"), let time = Int64(text.dropFirst()) { return .timestamp(time) }
        if let offset = Int64(text), offset >= 0 { return .offset(offset) }
        throw ValidationError("\(option) must be earliest, latest, an offset or @EPOCH_MS, not \(text)")
    }
}

/// Runs async work from a synchronous command, waiting for it (the CLI's commands are synchronous).
func runAndWait(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable {
        // Written once by the task before it signals, read after the wait.
        var error: (any Error)?
    }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
