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

    /// Writes dirty pages of `range` back to the file and waits for it.
    func sync(upTo count: Int) throws(ReservoirError) {
        guard count > 0 else { return }
        if msync(base, min(count, length), MS_SYNC) != 0 { throw .io("msync", path: "mapping", errno: errno) }
    }

    /// Tells the kernel that `count` bytes from `offset` will not be needed soon.
    func discard(from offset: Int, count: Int) {
        let page = FileSystem.pageSize
        let start = offset / page * page
        let end = min(length, offset + count)
        if end > start { madvise(base + start, end - start, MADV_DONTNEED) }
    }

    func bytes(from offset: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + offset, count: count)
    }
}
