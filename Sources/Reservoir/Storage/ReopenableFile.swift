import Synchronization

/// A file whose descriptor is let go while nobody needs it and opened again on demand, so that a
/// store's open descriptors grow with its partitions, not its segments (a segment no longer
/// written is read through its mapping, which outlives the descriptor).
///
/// Safe to release while another thread uses the file: users hold the `FileHandle` they got, and
/// its descriptor closes only when the last of them lets go, so a released number is never reused
/// under a write.
final class ReopenableFile: Sendable {
    let path: String
    private let current: Mutex<FileHandle?>

    init(_ handle: FileHandle) {
        path = handle.path
        current = Mutex(handle)
    }

    /// A file not open now, opened on first use.
    init(path: String) {
        self.path = path
        current = Mutex(nil)
    }

    /// The open file, opened again (read-write, never created) when it was released.
    func handle() throws(ReservoirError) -> FileHandle {
        try current.withLock { (current) throws(ReservoirError) -> FileHandle in
            if let current { return current }
            let opened = try FileHandle.open(path)
            current = opened
            return opened
        }
    }

    /// Lets the descriptor go once its current users are done.
    func release() {
        _ = current.withLock { $0.take() }
    }
}
