#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared memory mapping of a file, unmapped when the last reference goes away.
///
/// Readers hold a reference for as long as they read, so a mapping outlives the segment that made
/// it (roll, deletion by retention, close). The mapping may be larger than the file: callers read
/// only below the sizes they were published, which the file always covers.
final class MappedRegion: @unchecked Sendable {
    // Sendable by invariant: `base` and `length` never change; the bytes below a published size
    // are not written again (the log is append-only; index entries are written before their
    // count is published with release ordering).
    let base: UnsafeMutableRawPointer
    let length: Int
    /// The mapped file's path and identity when it was mapped, to open the same file again.
    let path: String
    let identity: FileIdentity

    /// Maps `length` bytes of `file` from its start.
    init(file: FileHandle, length: Int, writable: Bool) throws(ReservoirError) {
        precondition(length > 0, "a mapping needs a length")
        var info = stat()
        _ = try SystemCall.retrying("fstat", file.path) { fstat(file.descriptor, &info) }
        path = file.path
        identity = FileIdentity(info)
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        guard let pointer = mmap(nil, length, protection, MAP_SHARED, file.descriptor, 0),
            pointer != MAP_FAILED
        else {
            throw .io("mmap", path: file.path, errno: errno)
        }
        base = pointer
        self.length = length
    }

    deinit { munmap(base, length) }

    /// A new read-only descriptor on the mapped file, for sending its bytes with sendfile(2); nil
    /// when the file at ``path`` is no longer the one mapped (retention or compaction renamed or
    /// removed it, compaction put a cleaned file in its place) or cannot be opened.
    func openMappedFile() -> Int32? {
        var descriptor: Int32
        repeat { descriptor = open(path, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return nil }
        var info = stat()
        guard fstat(descriptor, &info) == 0, FileIdentity(info) == identity else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    func bytes(from offset: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + offset, count: count)
    }
}
