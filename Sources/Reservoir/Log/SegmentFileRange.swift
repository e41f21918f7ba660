#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read's batches as one range of their segment file, with a read-only descriptor of its own
/// on that file: for a server that sends them to a socket with sendfile(2) instead of copying
/// them out of the mapping (see ``LogReadResult/openSegmentFile()``).
///
/// The bytes in the range are the batches exactly: a segment's written bytes are never
/// rewritten, and the descriptor keeps the file readable after retention or compaction remove
/// it. The descriptor is closed when the value is dropped, unless ``takeDescriptor()`` hands
/// it over.
public struct SegmentFileRange: ~Copyable, Sendable {
    private let descriptor: Int32
    /// Where the first batch starts in the file.
    public let position: Int
    /// The batches' bytes.
    public let count: Int

    init(descriptor: Int32, position: Int, count: Int) {
        self.descriptor = descriptor
        self.position = position
        self.count = count
    }

    /// The descriptor, which the caller now owns and must close.
    public consuming func takeDescriptor() -> Int32 {
        let descriptor = self.descriptor
        discard self
        return descriptor
    }

    deinit { close(descriptor) }
}
