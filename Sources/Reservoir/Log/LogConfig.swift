/// How one partition log lays out and flushes its segments.
public struct LogConfig: Sendable, Hashable {
    /// Roll to a new segment before one grows past this many bytes (Kafka's `segment.bytes`).
    public var segmentBytes: Int = 1 << 30
    /// Roll the active segment once its first batch is this many ms old (Kafka's `segment.ms`, 7 days).
    public var segmentMs: Int64 = 604_800_000
    /// Add an offset-index entry after this many bytes of log (Kafka's `index.interval.bytes`).
    public var indexIntervalBytes: Int = 4096
    /// The preallocated size of each index file (Kafka's `segment.index.bytes`).
    public var maxIndexBytes: Int = 10 * 1024 * 1024
    /// When appended data is fsync'd besides what durable appends ask for.
    public var flushPolicy: FlushPolicy = .onRollAndClose
    /// Bytes kept prepared ahead of the writer of the active segment: 0 is automatic (4 MiB once
    /// the partition takes durable appends), -1 off; appends into prepared space avoid growing
    /// the file (see `Preallocation`).
    public var preallocateBytes: Int = 0

    /// A layout and flush configuration; the defaults are Kafka's.
    public init(
        segmentBytes: Int = 1 << 30,
        segmentMs: Int64 = 604_800_000,
        indexIntervalBytes: Int = 4096,
        maxIndexBytes: Int = 10 * 1024 * 1024,
        flushPolicy: FlushPolicy = .onRollAndClose,
        preallocateBytes: Int = 0
    ) {
        self.preallocateBytes = preallocateBytes
        self.segmentBytes = segmentBytes
        self.segmentMs = segmentMs
        self.indexIntervalBytes = indexIntervalBytes
        self.maxIndexBytes = maxIndexBytes
        self.flushPolicy = flushPolicy
    }

    /// The smallest segment size accepted (small enough for tests that roll often).
    public static let minimumSegmentBytes = 1024

    func validate() throws(ReservoirError) {
        guard segmentBytes >= Self.minimumSegmentBytes, segmentBytes <= Int(Int32.max) else {
            throw ReservoirError(
                .invalidArgument, "segment bytes \(segmentBytes) must be between \(Self.minimumSegmentBytes) and \(Int32.max)")
        }
        guard segmentMs > 0 else { throw ReservoirError(.invalidArgument, "segment ms must be positive") }
        guard indexIntervalBytes >= 0 else {
            throw ReservoirError(.invalidArgument, "index interval bytes must not be negative")
        }
        guard maxIndexBytes >= 4 * TimeIndex.entrySize else {
            throw ReservoirError(.invalidArgument, "index bytes \(maxIndexBytes) must be at least \(4 * TimeIndex.entrySize)")
        }
        switch flushPolicy {
        case .everyRecords(let n) where n <= 0, .everyMilliseconds(let n) where n <= 0:
            throw ReservoirError(.invalidArgument, "flush interval must be positive")
        default: break
        }
    }
}

extension LogConfig {
    /// Opens (or creates) the segment at `files` with this configuration's sizes.
    func openSegment(_ files: SegmentFiles, active: Bool, now: Int64) throws(ReservoirError) -> Segment {
        try Segment(
            files: files, active: active, capacity: segmentBytes, indexIntervalBytes: indexIntervalBytes,
            maxIndexBytes: maxIndexBytes, now: now)
    }
}
