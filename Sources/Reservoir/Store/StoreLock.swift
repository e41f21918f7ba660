#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The exclusive lock on a store directory: `flock` on its `.lock` file, which also records the
/// holder's process id for the error a second opener gets. The kernel drops the lock when the
/// process dies, so a crash never leaves a store locked.
final class StoreLock: Sendable {
    private let file: Mutex<FileHandle?>
    private let identity: FileIdentity

    /// The lock files this process holds, by identity.
    private static let held = Mutex<Set<FileIdentity>>([])

    /// How long an opener waits for a lock that only a child of this process holds, between
    /// the child's start and its `exec` (see `init`).
    static let inheritedLockWaitMilliseconds = 2000
    /// How long an opener waits for a lock another process holds before it reports it.
    static let otherProcessLockWaitMilliseconds = 500

    init(directory: String) throws(ReservoirError) {
        let path = StoreLayout(directory).lockFile
        let file = try FileHandle.open(path, create: true)
        var info = stat()
        _ = try SystemCall.retrying("fstat", path) { fstat(file.descriptor, &info) }
        let identity = FileIdentity(info)
        var waited = 0
        while try !file.tryLockExclusive() {
            let holder = (try? file.readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let pid = holder.split(separator: "\n").first.map(String.init) ?? "another process"
            // The lock file names this process and this process does not hold the store: a child
            // process started a moment ago (posix_spawn, fork) shares the descriptor of an
            // earlier open until its exec closes it. That passes within milliseconds.
            let ours = pid == "\(getpid())"
            let inherited = ours && !Self.held.withLock { $0.contains(identity) }
            // Another process's lock may be the same moment in that process (its child holding
            // the descriptor of a store it just closed): a short wait before the error.
            let patience = inherited ? Self.inheritedLockWaitMilliseconds : ours ? 0 : Self.otherProcessLockWaitMilliseconds
            guard waited < patience else {
                if inherited {
                    throw ReservoirError(
                        .storeLocked,
                        "store \(directory) is locked by a child of this process that was started while the store was open and still holds its descriptors (forked without exec?)"
                    )
                }
                if pid == "\(getpid())" {
                    throw ReservoirError(
                        .storeLocked, "store \(directory) is already open for writing in this process: use that store, or close it first")
                }
                throw ReservoirError(.storeLocked, Self.inUseMessage(directory: directory, pid: pid))
            }
            usleep(1000)
            waited += 1
        }
        try file.truncate(to: 0)
        try file.write(Array("\(getpid())\n".utf8), at: 0)
        Self.held.withLock { _ = $0.insert(identity) }
        self.identity = identity
        self.file = Mutex(file)
    }

    deinit { release() }

    /// What a second writer is told: who writes the store, and what works beside it (reading,
    /// or, when the writer is `reservoir serve`, going through its Kafka listener).
    static func inUseMessage(directory: String, pid: String) -> String {
        let arguments = Self.commandLine(of: pid)
        let readers =
            "read-only opens work beside it (Reservoir.openReadOnly; reservoir consume, topic list and the other reading commands)"
        if let serve = arguments.firstIndex(of: "serve"), serve > 0 {
            var listener = "its Kafka listener"
            if let flag = arguments.firstIndex(of: "--listen"), flag + 1 < arguments.count {
                listener = "its Kafka listener at \(arguments[flag + 1])"
            } else if let joined = arguments.first(where: { $0.hasPrefix("--listen=") }) {
                listener = "its Kafka listener at \(joined.dropFirst("--listen=".count))"
            }
            return
                "store \(directory) is written by `reservoir serve` (process \(pid)): produce, create topics and commit through \(listener) with a Kafka client, or stop it first; \(readers)"
        }
        let name = arguments.first.map { " (\(FileSystem.fileName(of: $0)))" } ?? ""
        return
            "store \(directory) is in use by process \(pid)\(name), which writes it: make changes there or close it first (one process writes a store); \(readers)"
    }

    /// The command line of process `pid`, from /proc (empty when unknown).
    private static func commandLine(of pid: String) -> [String] {
        // Files under /proc report a size of 0: read until the end.
        let descriptor = Glibc.open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { Glibc.close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Releases the lock (closing the descriptor drops it).
    func release() {
        guard file.withLock({ $0.take() }) != nil else { return }
        Self.held.withLock { _ = $0.remove(identity) }
    }
}
