#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable, reusable block of raw memory owned by one thread at a time.
///
/// Encoders and decoders keep one each and reuse it for every batch, so the hot paths allocate
/// only when a batch is larger than any before. The memory is freed in `deinit`; views into it
/// are valid until the next `reserve` that grows it or until the buffer is released.
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int

    init(capacity: Int = 64 * 1024) {
        let size = max(capacity, 64)
        // Invariant: `base` always points to `capacity` allocated bytes.
        guard let memory = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        base = memory
        self.capacity = size
    }

    deinit { free(base) }

    /// Makes room for `count` bytes, keeping the first `preserving` bytes.
    func reserve(_ count: Int, preserving: Int = 0) {
        if count <= capacity { return }
        grow(to: count, preserving: preserving)
    }

    func grow(to count: Int, preserving: Int) {
        var size = capacity
        while size < count { size = size &* 2 }
        guard let memory = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        if preserving > 0 { memory.copyMemory(from: base, byteCount: min(preserving, capacity)) }
        free(base)
        base = memory
        capacity = size
    }

    func bytes(count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }
}
