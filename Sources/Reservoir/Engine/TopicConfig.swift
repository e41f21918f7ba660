/// A topic's persisted configuration.
public struct TopicConfig: Sendable, Hashable, Codable {
    /// Number of partitions (fixed at creation).
    public var partitions: Int
    /// Codec of the batches Reservoir writes.
    public var compression: CompressionCodec
    /// LZ4 level: 0 is LZ4's fast mode, 3 to 12 LZ4-HC.
    public var compressionLevel: Int
    /// Roll to a new segment before one grows past this many bytes (1 GiB).
    public var segmentBytes: Int
    /// An offset-index entry every this many bytes of log (4096).
    public var indexIntervalBytes: Int
    /// The preallocated size of each index file (10 MiB).
    public var maxIndexBytes: Int
    /// When the partitions fsync on their own (default: on roll and close).
    public var flushPolicy: FlushPolicy
    /// The largest encoded record accepted, 1 MiB by default (Kafka's `max.message.bytes` is per
    /// batch; this is per record).
    public var maxRecordBytes: Int
    /// The largest encoded batch accepted, 16 MiB by default (at most the segment size).
    public var maxBatchBytes: Int
    /// Bytes of file space prepared ahead of the active segment's writer (0, the default, turns it
    /// off). It makes durable appends cheaper (fdatasync finds the space allocated) and costs
    /// buffered throughput on small machines; see Docs/BENCHMARKS.md.
    public var preallocateBytes: Int

    /// A configuration; `nil` limits take their defaults (see the properties).
    public init(
        partitions: Int = 1,
        compression: CompressionCodec = .none,
        compressionLevel: Int = 0,
        segmentBytes: Int = 1 << 30,
        indexIntervalBytes: Int = 4096,
        maxIndexBytes: Int = 10 * 1024 * 1024,
        flushPolicy: FlushPolicy = .onRollAndClose,
        maxRecordBytes: Int? = nil,
        maxBatchBytes: Int? = nil,
        preallocateBytes: Int = 0
    ) {
        self.preallocateBytes = preallocateBytes
        self.partitions = partitions
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.segmentBytes = segmentBytes
        self.indexIntervalBytes = indexIntervalBytes
        self.maxIndexBytes = maxIndexBytes
        self.flushPolicy = flushPolicy
        // Defaults: 16 MiB batches and 1 MiB records, never more than a segment holds.
        let batch = maxBatchBytes ?? min(16 << 20, segmentBytes)
        self.maxBatchBytes = batch
        self.maxRecordBytes = maxRecordBytes ?? min(1 << 20, batch)
    }

    var logConfig: LogConfig {
        LogConfig(segmentBytes: segmentBytes, indexIntervalBytes: indexIntervalBytes,
                  maxIndexBytes: maxIndexBytes, flushPolicy: flushPolicy, preallocateBytes: preallocateBytes)
    }

    func validate() throws(ReservoirError) {
        guard partitions >= 1, partitions <= 10_000 else {
            throw ReservoirError(.invalidArgument, "partition count \(partitions) must be between 1 and 10000")
        }
        guard compression.isSupported else {
            throw ReservoirError(.invalidArgument, "compression \(compression) is not supported: use none or lz4")
        }
        guard maxRecordBytes > 0, maxBatchBytes >= maxRecordBytes else {
            throw ReservoirError(.invalidArgument, "record and batch size limits must be positive, batch ≥ record")
        }
        guard preallocateBytes >= 0 else { throw ReservoirError(.invalidArgument, "preallocate bytes must not be negative") }
        try logConfig.validate()
        guard maxBatchBytes <= segmentBytes else {
            throw ReservoirError(.invalidArgument, "max batch bytes \(maxBatchBytes) exceeds segment bytes \(segmentBytes): lower max batch bytes or raise segment bytes")
        }
    }

    // Codable by hand so that files written by later versions, with more keys, still load, and
    // files missing a key take its default.
    private enum Key: String, CodingKey {
        case partitions, compression, compressionLevel, segmentBytes, indexIntervalBytes, maxIndexBytes, flush
        case maxRecordBytes, maxBatchBytes, preallocateBytes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let defaults = TopicConfig()
        partitions = try container.decode(Int.self, forKey: .partitions)
        let codec = try container.decodeIfPresent(String.self, forKey: .compression) ?? "none"
        compression = CompressionCodec.allCases.first { $0.description == codec } ?? .none
        compressionLevel = try container.decodeIfPresent(Int.self, forKey: .compressionLevel) ?? defaults.compressionLevel
        segmentBytes = try container.decodeIfPresent(Int.self, forKey: .segmentBytes) ?? defaults.segmentBytes
        indexIntervalBytes = try container.decodeIfPresent(Int.self, forKey: .indexIntervalBytes) ?? defaults.indexIntervalBytes
        maxIndexBytes = try container.decodeIfPresent(Int.self, forKey: .maxIndexBytes) ?? defaults.maxIndexBytes
        let flush = try container.decodeIfPresent(String.self, forKey: .flush) ?? "none"
        flushPolicy = FlushPolicy(parsing: flush) ?? defaults.flushPolicy
        maxRecordBytes = try container.decodeIfPresent(Int.self, forKey: .maxRecordBytes) ?? defaults.maxRecordBytes
        maxBatchBytes = try container.decodeIfPresent(Int.self, forKey: .maxBatchBytes) ?? min(16 << 20, segmentBytes)
        maxRecordBytes = min(maxRecordBytes, maxBatchBytes)
        preallocateBytes = try container.decodeIfPresent(Int.self, forKey: .preallocateBytes) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(partitions, forKey: .partitions)
        try container.encode(compression.description, forKey: .compression)
        try container.encode(compressionLevel, forKey: .compressionLevel)
        try container.encode(segmentBytes, forKey: .segmentBytes)
        try container.encode(indexIntervalBytes, forKey: .indexIntervalBytes)
        try container.encode(maxIndexBytes, forKey: .maxIndexBytes)
        try container.encode(flushPolicy.description, forKey: .flush)
        try container.encode(maxRecordBytes, forKey: .maxRecordBytes)
        try container.encode(maxBatchBytes, forKey: .maxBatchBytes)
        try container.encode(preallocateBytes, forKey: .preallocateBytes)
    }
}
