import NIOCore
import Reservoir

/// The records field of a Produce request or a Fetch response: encoded record batches, as bytes
/// in memory or as a range of a segment file that the server sends with sendfile(2).
public enum KafkaRecords: Sendable, Hashable {
    /// Batches in memory: a slice of a request, or bytes composed for a response.
    case bytes(ByteBuffer)
    /// Batches read from a partition, sent straight from their segment file.
    case file(KafkaFileRecords)

    /// An empty records field.
    public static var empty: KafkaRecords { .bytes(ByteBuffer()) }

    /// The size of the batches in bytes.
    public var byteCount: Int {
        switch self {
        case .bytes(let buffer): buffer.readableBytes
        case .file(let file): file.count
        }
    }

    /// The batches' bytes in memory (copied from the mapping for a file range).
    public var buffer: ByteBuffer {
        switch self {
        case .bytes(let buffer): return buffer
        case .file(let file):
            var buffer = ByteBufferAllocator().buffer(capacity: file.count)
            for batch in file.batches { batch.withUnsafeBytes { _ = buffer.writeBytes($0) } }
            return buffer
        }
    }
}

extension KafkaRecords {
    /// Equal when the bytes are, wherever they are kept.
    public static func == (lhs: KafkaRecords, rhs: KafkaRecords) -> Bool { lhs.buffer == rhs.buffer }
    public func hash(into hasher: inout Hasher) { hasher.combine(buffer) }
}

/// Batches read from a partition with a descriptor of their own on their segment file: the
/// server writes them as a `FileRegion` (sendfile), and the batches keep the mapping alive for
/// whoever wants the bytes in memory instead (``KafkaRecords/buffer``).
public final class KafkaFileRecords: Sendable {
    let handle: NIOFileHandle
    /// Where the batches start in the file.
    let position: Int
    /// Their size in bytes.
    let count: Int
    let batches: [RecordBatch]

    /// The read's batches as a file range, or nil when its segment file cannot serve them
    /// (see ``LogReadResult/openSegmentFile()``).
    init?(_ result: LogReadResult) {
        guard let range = result.openSegmentFile() else { return nil }
        position = range.position
        count = range.count
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: range.takeDescriptor())
        batches = result.batches
    }

    /// The region to write: valid while this object lives.
    var region: FileRegion { FileRegion(fileHandle: handle, readerIndex: position, endIndex: position + count) }

    deinit {
        // A read-only descriptor: closing it cannot lose anything.
        try? handle.close()
    }
}
