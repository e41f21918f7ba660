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
                let who = pid == "\(getpid())" ? "this process" : "process \(pid)"
                throw ReservoirError(
                    .storeLocked, "store \(directory) is in use by \(who): close it there first (only one process may open a store)")
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

    /// Releases the lock (closing the descriptor drops it).
    func release() {
        guard file.withLock({ $0.take() }) != nil else { return }
        Self.held.withLock { _ = $0.remove(identity) }
    }
}
