/// The CRC32C of the batch a reader decodes next, computed in steps while it decodes the current
/// one.
///
/// A sequential read checks each batch's CRC before handing out its records, which makes two
/// passes over every byte: the checksum, then the decoding. Done one after the other, the
/// checksum waits on memory while the decoder's arithmetic waits on the checksum. Spread over the
/// records of the batch before, the checksum's loads come in behind the decoding and its
/// instructions run beside it, so that a batch is checked by the time it is decoded.
///
/// On a processor whose checksum folds with carry-less multiplication
/// (``CRC32C/foldsCarrylessly``), one pass over the whole batch before its records is faster
/// (62-63 M records/s against 60-61 M, 100-byte records, on 2 cores of an AMD EPYC): there the
/// decoder does not check ahead (``RecordDecoder/checksAhead``).
@usableFromInline
struct ChecksumAhead {
    /// The bytes a step checks: three runs of 256, which the checksum takes in three chains.
    @usableFromInline static let step = 768
    /// How far ahead of a step its prefetches reach: about a memory latency of decoding.
    @usableFromInline static let prefetchDistance = 3 * step

    /// The batch's owner and bytes: the checksum serves only the same bytes of the same owner.
    @usableFromInline let owner: AnyObject
    @usableFromInline let batchBytes: UnsafeRawBufferPointer
    /// The bytes the CRC covers.
    @usableFromInline let covered: UnsafeRawBufferPointer
    /// Bytes checked so far. It starts below zero by the bytes before the first 8-byte boundary:
    /// the first step is that much shorter, so that every later step starts aligned and runs as
    /// three chains throughout.
    @usableFromInline var done: Int
    @usableFromInline var crc: UInt32 = 0
    /// The position in the current section at which the next step is due, and the distance
    /// between steps, so that the last one falls at the section's end.
    @usableFromInline var due: Int
    @usableFromInline let stride: Int

    /// Starts on `next` while a section of `sectionSize` bytes is decoded; nil when `next` is
    /// held by nothing or its header does not describe its bytes (its own check reports that).
    @inlinable
    init?(_ next: RecordBatch, sectionSize: Int) {
        guard let owner = next.owner, let covered = next.checksummedBytes, covered.count >= Self.step else { return nil }
        self.owner = owner
        batchBytes = next.bytes
        self.covered = covered
        done = -(Int(bitPattern: covered.baseAddress) & 7)
        stride = max(1, sectionSize / (covered.count / Self.step))
        due = stride
    }

    /// Checks the next step's bytes when the decoder has reached `position` in its section.
    @inlinable @inline(__always)
    mutating func advance(to position: Int) {
        guard position >= due else { return }
        due &+= stride
        let start = max(done, 0)
        let end = done &+ Self.step
        guard end <= covered.count, let base = covered.baseAddress else {
            due = .max
            return
        }
        // The bytes a few steps on are asked for now, to be in the cache when their step comes.
        let ahead = min(end &+ Self.prefetchDistance, covered.count)
        crc = CRC32C.checksum(
            UnsafeRawBufferPointer(start: base + start, count: end &- start), continuing: crc,
            prefetching: UnsafeRawBufferPointer(start: base + ahead, count: min(Self.step, covered.count &- ahead)))
        done = end
    }

    /// Whether this is the checksum of `batch`'s bytes.
    func isChecksum(of batch: RecordBatch) -> Bool {
        owner === batch.owner && batchBytes.baseAddress == batch.bytes.baseAddress && batchBytes.count == batch.bytes.count
    }

    /// The checksum of all of the covered bytes, the rest checked now.
    @inlinable
    mutating func finish() -> UInt32 {
        guard let base = covered.baseAddress else { return crc }
        let start = max(done, 0)
        crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + start, count: covered.count &- start), continuing: crc)
        done = covered.count
        return crc
    }
}
