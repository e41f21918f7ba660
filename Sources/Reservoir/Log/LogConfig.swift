/// When a partition log fsyncs on its own, whatever each append asks for.
public enum FlushPolicy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Every append is durable before it returns, even appends that asked for `.buffered`.
    case always
    /// A background flush once this many records were appended since the last flush.
    case everyRecords(Int)
    /// A background flush at most this many milliseconds after unflushed data was appended.
    case everyMilliseconds(Int)
    /// Only on segment roll and close (Kafka's default; durable appends still fsync).
    case onRollAndClose

    public var description: String {
        switch self {
        case .always: "durable"
        case .everyRecords(let count): "interval:\(count)"
        case .everyMilliseconds(let ms): "interval:\(ms)ms"
        case .onRollAndClose: "none"
        }
    }

    /// Parses `durable`, `interval:N`, `interval:Tms` or `none`.
    public init?(parsing text: String) {
        switch text {
        case "durable", "always": self = .always
        case "none": self = .onRollAndClose
        default:
            guard text.hasPrefix("interval:") else { return nil }
            let value = text.dropFirst("interval:".count)
            if value.hasSuffix("ms"), let ms = Int(value.dropLast(2)), ms > 0 {
                self = .everyMilliseconds(ms)
            } else if let count = Int(value), count > 0 {
                self = .everyRecords(count)
            } else {
                return nil
            }
        }
    }
}

/// How one partition log lays out and flushes its segments.
public struct LogConfig: Sendable, Hashable {
    /// Roll to a new segment before one grows past this many bytes (Kafka's `segment.bytes`).
    public var segmentBytes: Int = 1 << 30
    /// Roll the active segment once its first batch is this many ms old (Kafka's `segment.ms`).
    public var segmentMs: Int64 = .max
    /// Add an offset-index entry after this many bytes of log (Kafka's `index.interval.bytes`).
    public var indexIntervalBytes: Int = 4096
    /// The preallocated size of each index file (Kafka's `segment.index.bytes`).
    public var maxIndexBytes: Int = 10 * 1024 * 1024
    public var flushPolicy: FlushPolicy = .onRollAndClose
    /// Zero-filled bytes kept ahead of the writer of the active segment (0 turns it off); appends
    /// into written space avoid growing the file (see ``Preallocation``).
    public var preallocateBytes: Int = 0

    public init(
        segmentBytes: Int = 1 << 30,
        segmentMs: Int64 = .max,
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
            throw ReservoirError(.invalidArgument, "segment bytes \(segmentBytes) must be between \(Self.minimumSegmentBytes) and \(Int32.max)")
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

/// Which records a read may return.
public enum ReadIsolation: Sendable, Hashable {
    /// Everything appended (in the page cache: survives a process crash).
    case written
    /// Only records already fsync'd (survive a power loss).
    case durable
}

/// How an append is acknowledged.
public enum Acks: Sendable, Hashable {
    /// Once the batch is in the page cache: survives a crash of the process, not of the machine.
    case buffered
    /// Once the batch is fsync'd; concurrent durable appends share one fsync.
    case durable
}
