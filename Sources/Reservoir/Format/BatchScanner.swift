/// Walks record batches laid end to end in a byte range (a segment file, a fetch response),
/// checking each one's header, and says where and why it stopped.
///
/// Recovery, reads, the verifier, the inspector, the repair and the cleaner all walk batches with
/// it, so that "what counts as the next batch" has one answer. The scanner never reads outside
/// `bytes`: every header is bounds-checked before its fields are used.
///
/// ```swift
/// var scanner = BatchScanner(bytes, verifyCRC: true)
/// while let batch = scanner.next() { use(batch.position, batch.header) }
/// if case .invalid(let error) = scanner.stop { report(error, at: scanner.position) }
/// ```
struct BatchScanner {
    /// One batch the scanner passed: where it starts and its validated header.
    struct Entry {
        var position: Int
        var header: RecordBatchHeader
        /// The batch's bytes: `position ..< position + header.totalSize`.
        var range: Range<Int> { position..<(position + header.totalSize) }
    }

    /// Why the scanner stopped.
    enum Stop: Equatable {
        /// Every byte up to the end belonged to a whole batch.
        case end
        /// The bytes at ``BatchScanner/position`` are not a valid batch.
        case invalid(FormatError)
        /// The batch at ``BatchScanner/position`` is valid but its offsets do not continue the
        /// previous ones (they go back, or leave the range a segment can index).
        case offsetsOutOfOrder(found: ClosedRange<Int64>, expected: Int64)
    }

    let bytes: UnsafeRawBufferPointer
    let verifyCRC: Bool
    /// With a segment's base offset: batches must start at or after the next expected offset and
    /// end within 2³¹ of the base (a segment's indexes store offsets relative to it).
    private let segmentBase: Int64?
    /// The first byte not yet passed: the start of the next batch, or of the bytes that stopped
    /// the scan.
    private(set) var position: Int
    /// The offset the next batch must reach (with a segment base only).
    private(set) var nextOffset: Int64
    /// Set once ``next()`` has returned nil.
    private(set) var stop: Stop?

    /// - Parameters:
    ///   - position: where the first batch starts (an index entry's position, say).
    ///   - verifyCRC: check each batch's CRC32C as well as its framing (recovery, the verifier).
    ///   - segmentBase: check that offsets continue from `firstOffset` and fit the segment.
    init(
        _ bytes: UnsafeRawBufferPointer, from position: Int = 0, verifyCRC: Bool = false, segmentBase: Int64? = nil,
        firstOffset: Int64? = nil
    ) {
        self.bytes = bytes
        self.position = position
        self.verifyCRC = verifyCRC
        self.segmentBase = segmentBase
        self.nextOffset = firstOffset ?? segmentBase ?? 0
    }

    /// The bytes not yet passed.
    var remaining: Int { max(0, bytes.count - position) }

    /// The validation error that stopped the scan, if that is why it stopped.
    var failure: FormatError? {
        if case .invalid(let error) = stop { return error }
        return nil
    }

    /// The next batch, or nil at the end or at the first bytes that are not one (``stop`` then says
    /// which); the scanner stays stopped until ``skip(bytes:)`` moves it on.
    mutating func next() -> Entry? {
        guard stop == nil else { return nil }
        guard position < bytes.count else {
            stop = .end
            return nil
        }
        let header: RecordBatchHeader
        do {
            header = try RecordBatchHeader.validate(bytes, at: position, verifyCRC: verifyCRC)
        } catch {
            stop = .invalid(error)
            return nil
        }
        if let segmentBase {
            guard header.baseOffset >= nextOffset, header.lastOffset - segmentBase <= Int64(Int32.max) else {
                stop = .offsetsOutOfOrder(found: header.baseOffset...header.lastOffset, expected: nextOffset)
                return nil
            }
            nextOffset = header.lastOffset + 1
        }
        let entry = Entry(position: position, header: header)
        position += header.totalSize
        return entry
    }

    /// Moves past `count` bytes that are not a batch of this format (a legacy message) and
    /// resumes scanning.
    mutating func skip(bytes count: Int) {
        resume(at: position + count)
    }

    /// Resumes scanning at `position` (a repair looking for the next batch one byte further on
    /// after damage, or after a batch it rejects).
    mutating func resume(at position: Int) {
        self.position = position
        stop = nil
    }

    /// Whether every byte from ``position`` to the end is zero (space preallocated ahead of a
    /// writer that never reached it: no record lives there).
    var restIsZero: Bool { Self.isZero(UnsafeRawBufferPointer(rebasing: bytes[min(position, bytes.count)...])) }

    /// Whether every byte is zero.
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }
}

extension BatchScanner.Stop: CustomStringConvertible {
    var description: String {
        switch self {
        case .end: "end of the bytes"
        case .invalid(let error): "\(error)"
        case .offsetsOutOfOrder(let found, let expected): "offsets \(found.lowerBound)...\(found.upperBound), expected ≥ \(expected)"
        }
    }
}
