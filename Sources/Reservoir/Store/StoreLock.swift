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

    init(directory: String) throws(ReservoirError) {
        let path = StoreLayout(directory).lockFile
        let file = try FileHandle.open(path, create: true)
        guard try file.tryLockExclusive() else {
            let holder = (try? file.readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let pid = holder.split(separator: "\n").first.map(String.init) ?? "another process"
            throw ReservoirError(
                .storeLocked, "store \(directory) is in use by process \(pid): close it there first (only one process may open a store)")
        }
        try file.truncate(to: 0)
        try file.write(Array("\(getpid())\n".utf8), at: 0)
        self.file = Mutex(file)
    }

    /// Releases the lock (closing the descriptor drops it).
    func release() {
        _ = file.withLock { $0.take() }
    }
}
