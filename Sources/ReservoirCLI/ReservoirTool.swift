import ArgumentParser
import Foundation
import Logging
import Reservoir

@main
struct ReservoirTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservoir",
        abstract: "An embeddable commit log in Kafka's on-disk format.",
        subcommands: [TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, DumpCommand.self,
                      VerifyCommand.self, MaintainCommand.self, DeleteRecordsCommand.self, GroupsCommand.self,
                      QueueCommand.self, BenchCommand.self]
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
            let message = fullMessage(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
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

    static func fail(_ message: String, code: Int32) -> Never {
        OpenStores.parkIfStopping()
        // What was read before the failure is printed before the error that ends it.
        Output.flush()
        FileHandle.standardError.write(Data("reservoir: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// A failure the CLI reports in one line.
struct CLIFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The `--dir` option every store command takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Store directory (default: $RESERVOIR_DIR, else ./reservoir-data).")
    var dir: String?

    var path: String {
        dir ?? ProcessInfo.processInfo.environment["RESERVOIR_DIR"] ?? "./reservoir-data"
    }

    /// Opens the store; SIGINT and SIGTERM close it cleanly until ``Reservoir/closeOrExit()``.
    func open() throws -> Reservoir {
        let store = try Reservoir.open(at: path, options: Reservoir.Options(logger: quietLogger()))
        OpenStores.add(store)
        return store
    }
}

/// Commands print what they did; the store's own log reports only problems.
func quietLogger() -> Logger {
    var logger = Logger(label: "reservoir")
    logger.logLevel = .warning
    return logger
}

/// Writes to stdout without Foundation's buffering surprises; flushes on demand.
enum Output {
    nonisolated(unsafe) static var buffer: [UInt8] = []

    static func write(_ text: String) { buffer.append(contentsOf: text.utf8) ; if buffer.count > 1 << 16 { flush() } }
    static func write(bytes: [UInt8]) { buffer.append(contentsOf: bytes) ; if buffer.count > 1 << 16 { flush() } }

    /// Writes the buffer with `write(2)`. A reader that went away (EPIPE: `| head`) ends the
    /// command quietly, its stores closed cleanly; another failure ends it with one line.
    static func flush() {
        guard !buffer.isEmpty else { return }
        let failure: Int32? = buffer.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let result = Glibc.write(1, bytes.baseAddress! + written, bytes.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            if failure == EPIPE { OpenStores.closeAllAndExit(0) }
            FileHandle.standardError.write(Data("reservoir: writing the output failed: \(String(cString: strerror(failure)))\n".utf8))
            OpenStores.closeAllAndExit(1)
        }
    }
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
