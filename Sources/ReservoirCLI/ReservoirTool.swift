import ArgumentParser
import Foundation
import Logging
import Reservoir

@main
struct ReservoirTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservoir",
        abstract: "An embeddable commit log in Kafka's on-disk format.",
        version: "reservoir \(Reservoir.version) (store format: \(Reservoir.formatVersion))",
        subcommands: [
            TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, DumpCommand.self,
            VerifyCommand.self, MaintainCommand.self, DeleteRecordsCommand.self, GroupsCommand.self,
            QueueCommand.self, ServeCommand.self, MirrorCommand.self, BenchCommand.self,
        ]
    )

    /// One line on stderr and exit 2 for usage errors, 1 for failures; never a trap or a trace.
    static func main() {
        OpenStores.installSignalHandlers()
        do {
            var command = try parseAsRoot(Self.takingGlobalDirectory(Array(CommandLine.arguments.dropFirst())))
            try command.run()
            OpenStores.parkIfStopping()
        } catch let error as ReservoirError {
            fail(error.message, code: 1)
        } catch let error as CLIFailure {
            fail(error.message, code: 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure {
                // One line: what is wrong and where the usage is.
                let reason = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                let command = Self.commandPath(Array(CommandLine.arguments.dropFirst()))
                fail("\(reason.hasPrefix("Error: ") ? String(reason.dropFirst(7)) : reason) (see `\(command) --help`)", code: 2)
            }
            let message = fullMessage(for: error)
            fail(message.split(separator: "\n").first.map(String.init) ?? "\(error)", code: 1)
        }
    }

    /// `--dir PATH` (or `--dir=PATH`) before the subcommand is the global form of every store
    /// command's `--dir`: it is taken out here and stands as `RESERVOIR_DIR`, which a `--dir`
    /// after the subcommand still overrides.
    static func takingGlobalDirectory(_ arguments: [String]) -> [String] {
        var rest = arguments
        var index = 0
        while index < rest.count, rest[index].hasPrefix("-") {
            if rest[index] == "--dir", index + 1 < rest.count {
                setenv("RESERVOIR_DIR", rest[index + 1], 1)
                rest.removeSubrange(index...(index + 1))
            } else if rest[index].hasPrefix("--dir=") {
                setenv("RESERVOIR_DIR", String(rest[index].dropFirst("--dir=".count)), 1)
                rest.remove(at: index)
            } else {
                index += 1
            }
        }
        return rest
    }

    /// `reservoir` and the subcommands named in `arguments` (for pointing at their help).
    static func commandPath(_ arguments: [String]) -> String {
        var path = ["reservoir"]
        var command: any ParsableCommand.Type = ReservoirTool.self
        for argument in arguments where !argument.hasPrefix("-") {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == argument }) else { break }
            path.append(argument)
            command = next
        }
        return path.joined(separator: " ")
    }

    static func fail(_ message: String, code: Int32) -> Never {
        OpenStores.parkIfStopping()
        // What was read before the failure is printed before the error that ends it.
        Output.flush()
        FileHandle.standardError.write(Data("reservoir: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// Commands print what they did; the store's own log reports only problems.
func quietLogger() -> Logger {
    var logger = Logger(label: "reservoir")
    logger.logLevel = .warning
    return logger
}

extension Reservoir {
    /// Closes the store at the end of a command; a failure (the checkpoints or the clean-shutdown
    /// marker could not be written) ends the command with exit status 1 and one line, since what
    /// the command did may not be durable.
    func closeOrExit() {
        OpenStores.parkIfStopping()
        OpenStores.remove(self)
        do { try close() } catch { ReservoirTool.fail("closing the store failed: \(error.message)", code: 1) }
    }
}
