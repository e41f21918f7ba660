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

    /// Maps `length` bytes of `file` from its start.
    init(file: FileHandle, length: Int, writable: Bool) throws(ReservoirError) {
        precondition(length > 0, "a mapping needs a length")
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

    func bytes(from offset: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + offset, count: count)
    }
}
