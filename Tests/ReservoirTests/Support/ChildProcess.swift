import Foundation
import Reservoir
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, with the subset of `Foundation.Process` the tests
/// use. Foundation's `Process.run()` on Linux over-reads the entries of `/proc/self/fd` and
/// crashes the test process now and then (swift-corelibs-foundation PR 5472, Swift 6.3): the
/// crash-safety tests start hundreds of children, so they must not.
final class ChildProcess {
    enum TerminationReason { case exit, uncaughtSignal }

    /// Runs `path` with `arguments` to its end and returns its standard output; the test fails
    /// when it fails.
    static func output(of path: String, _ arguments: [String]) throws -> String {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(path) \(arguments) failed")
        return String(decoding: data, as: UTF8.self)
    }

    var executableURL: URL?
    var arguments: [String] = []
    /// A `Pipe` or a `FileHandle`; nil inherits the test's own.
    var standardInput: Any?
    var standardOutput: Any?
    var standardError: Any?

    private(set) var processIdentifier: pid_t = 0
    private var waitStatus: Int32?

    /// Starts the child. The child keeps only descriptors 0, 1 and 2; the parent's copies of the
    /// pipe ends the child uses are closed, so that reading its output ends when it exits.
    func run() throws {
        guard let path = executableURL?.path else { throw ReservoirError(.invalidArgument, "no executable") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [FileHandle] = []
        for (stream, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            switch stream {
            case let pipe as Pipe:
                let childEnd = target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, childEnd.fileDescriptor, target)
                parentEnds.append(childEnd)
            case let handle as FileHandle where handle.fileDescriptor >= 0:
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            case is FileHandle:  // FileHandle.nullDevice has no descriptor
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0)
            default:
                break
            }
        }
        Self.closeFrom(3, &actions)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard result == 0 else { throw ReservoirError(.io, "posix_spawn \(path) failed", errno: result) }
        processIdentifier = pid
        for end in parentEnds { try? end.close() }
    }

    /// Closes every descriptor from `first` in the child (glibc's `closefrom` file action, found at
    /// run time because the module map does not export it).
    private static func closeFrom(_ first: Int32, _ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, first)
    }

    var isRunning: Bool {
        guard waitStatus == nil else { return false }
        var status: Int32 = 0
        if waitpid(processIdentifier, &status, WNOHANG) == processIdentifier {
            waitStatus = status
            return false
        }
        return true
    }

    func waitUntilExit() {
        guard waitStatus == nil else { return }
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        waitStatus = status
    }

    private var signalled: Bool { (waitStatus ?? 0) & 0x7f != 0 }
    var terminationReason: TerminationReason { signalled ? .uncaughtSignal : .exit }
    /// The exit status, or the signal's number for a child a signal ended.
    var terminationStatus: Int32 {
        let status = waitStatus ?? 0
        return signalled ? status & 0x7f : (status >> 8) & 0xff
    }
}
