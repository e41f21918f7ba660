/// A topic's persisted configuration.
///
/// Defaults follow Kafka's where Kafka has the setting. Every setting but the partition count's
/// lower bound can be changed on an existing topic (``Reservoir/alterTopic(_:settings:)``).
public struct TopicConfig: Sendable, Hashable, Codable {
    /// Number of partitions: can grow, never shrink.
    public var partitions: Int
    /// Codec of the batches Reservoir writes (existing batches keep theirs).
    public var compression: CompressionCodec
    /// The codec's level; 0 takes the codec's default (LZ4's fast mode, gzip 6, zstd 3); 3 to 12
    /// select LZ4-HC; snappy has none.
    public var compressionLevel: Int
    /// Roll to a new segment before one grows past this many bytes (1 GiB).
    public var segmentBytes: Int
    /// Roll the active segment once its first record is this old, in ms (7 days), so that
    /// retention and compaction, which never touch the active segment, reach its records.
    public var segmentMs: Int64
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

    /// Delete old segments, compact by key, or both (`delete`).
    public var cleanup: CleanupPolicy
    /// With `delete`: segments whose newest record is older than this are deleted, in ms
    /// (7 days; -1 keeps them forever).
    public var retentionMs: Int64
    /// With `delete`: the oldest segments are deleted while a partition holds more than this
    /// many bytes (-1, the default, sets no limit).
    public var retentionBytes: Int64
    /// With `compact`: how long a tombstone (a record with a null value) stays readable after
    /// the cleaner first sees it, in ms (1 day), so that consumers behind by less see the delete.
    public var deleteRetentionMs: Int64
    /// With `compact`: a partition is cleaned once this share of its cleanable bytes is dirty
    /// (not yet compacted) (0.5).
    public var minCleanableDirtyRatio: Double
    /// With `compact`: records younger than this (by timestamp, in ms) are never compacted (0).
    public var minCompactionLagMs: Int64
    /// With `compact`: a partition whose oldest dirty record is older than this is cleaned
    /// whatever its dirty ratio, in ms (never: `Int64.max`).
    public var maxCompactionLagMs: Int64
    /// Removed segments are renamed `.deleted` and their files removed this much later, in ms
    /// (60 s), so that readers still holding them finish first.
    public var fileDeleteDelayMs: Int64

    /// A configuration; `nil` limits take their defaults (see the properties).
    public init(
        partitions: Int = 1,
        compression: CompressionCodec = .none,
        compressionLevel: Int = 0,
        segmentBytes: Int = 1 << 30,
        segmentMs: Int64 = 604_800_000,
        indexIntervalBytes: Int = 4096,
        maxIndexBytes: Int = 10 * 1024 * 1024,
        flushPolicy: FlushPolicy = .onRollAndClose,
        maxRecordBytes: Int? = nil,
        maxBatchBytes: Int? = nil,
        preallocateBytes: Int = 0,
        cleanup: CleanupPolicy = .delete,
        retentionMs: Int64 = 604_800_000,
        retentionBytes: Int64 = -1,
        deleteRetentionMs: Int64 = 86_400_000,
        minCleanableDirtyRatio: Double = 0.5,
        minCompactionLagMs: Int64 = 0,
        maxCompactionLagMs: Int64 = .max,
        fileDeleteDelayMs: Int64 = 60_000
    ) {
        self.partitions = partitions
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.segmentBytes = segmentBytes
        self.segmentMs = segmentMs
        self.indexIntervalBytes = indexIntervalBytes
        self.maxIndexBytes = maxIndexBytes
        self.flushPolicy = flushPolicy
        // Defaults: 16 MiB batches and 1 MiB records, never more than a segment holds.
        let batch = maxBatchBytes ?? min(16 << 20, segmentBytes)
        self.maxBatchBytes = batch
        self.maxRecordBytes = maxRecordBytes ?? min(1 << 20, batch)
        self.preallocateBytes = preallocateBytes
        self.cleanup = cleanup
        self.retentionMs = retentionMs
        self.retentionBytes = retentionBytes
        self.deleteRetentionMs = deleteRetentionMs
        self.minCleanableDirtyRatio = minCleanableDirtyRatio
        self.minCompactionLagMs = minCompactionLagMs
        self.maxCompactionLagMs = maxCompactionLagMs
        self.fileDeleteDelayMs = fileDeleteDelayMs
    }

    var logConfig: LogConfig {
        LogConfig(segmentBytes: segmentBytes, segmentMs: segmentMs, indexIntervalBytes: indexIntervalBytes,
                  maxIndexBytes: maxIndexBytes, flushPolicy: flushPolicy, preallocateBytes: preallocateBytes)
    }

    func validate() throws(ReservoirError) {
        guard partitions >= 1, partitions <= 10_000 else {
            throw ReservoirError(.invalidArgument, "partition count \(partitions) must be between 1 and 10000")
        }
        guard maxRecordBytes > 0, maxBatchBytes >= maxRecordBytes else {
            throw ReservoirError(.invalidArgument, "record and batch size limits must be positive, batch ≥ record")
        }
        guard preallocateBytes >= 0 else { throw ReservoirError(.invalidArgument, "preallocate bytes must not be negative") }
        try logConfig.validate()
        guard maxBatchBytes <= segmentBytes else {
            throw ReservoirError(.invalidArgument, "max batch bytes \(maxBatchBytes) exceeds segment bytes \(segmentBytes): lower max batch bytes or raise segment bytes")
        }
        guard !cleanup.isEmpty else { throw ReservoirError(.invalidArgument, "cleanup must be delete, compact or compact,delete") }
        guard retentionMs >= -1, retentionBytes >= -1 else {
            throw ReservoirError(.invalidArgument, "retention must be -1 (unlimited) or a non-negative limit")
        }
        guard deleteRetentionMs >= 0, minCompactionLagMs >= 0, maxCompactionLagMs >= 0, fileDeleteDelayMs >= 0 else {
            throw ReservoirError(.invalidArgument, "time settings must not be negative")
        }
        guard minCleanableDirtyRatio >= 0, minCleanableDirtyRatio <= 1 else {
            throw ReservoirError(.invalidArgument, "min cleanable dirty ratio \(minCleanableDirtyRatio) must be between 0 and 1")
        }
    }

    // MARK: Settings by name

    /// The names ``applying(_:)`` accepts, with Kafka's dotted names as aliases.
    public static let settingNames: [String] = [
        "partitions", "compression", "compressionLevel", "segmentBytes", "segmentMs", "indexIntervalBytes",
        "maxIndexBytes", "flush", "maxRecordBytes", "maxBatchBytes", "preallocateBytes", "cleanup", "retentionMs",
        "retentionBytes", "deleteRetentionMs", "minCleanableDirtyRatio", "minCompactionLagMs", "maxCompactionLagMs",
        "fileDeleteDelayMs",
    ]

    private static let kafkaNames: [String: String] = [
        "compression.type": "compression", "segment.bytes": "segmentBytes", "segment.ms": "segmentMs",
        "index.interval.bytes": "indexIntervalBytes", "segment.index.bytes": "maxIndexBytes",
        "max.message.bytes": "maxBatchBytes", "cleanup.policy": "cleanup", "retention.ms": "retentionMs",
        "retention.bytes": "retentionBytes", "delete.retention.ms": "deleteRetentionMs",
        "min.cleanable.dirty.ratio": "minCleanableDirtyRatio", "min.compaction.lag.ms": "minCompactionLagMs",
        "max.compaction.lag.ms": "maxCompactionLagMs", "file.delete.delay.ms": "fileDeleteDelayMs",
    ]

    /// The setting name `name` stands for (itself, or the name a Kafka alias maps to).
    public static func settingName(for name: String) -> String { kafkaNames[name] ?? name }

    /// This configuration with `settings` (name → text value, as `topic alter --set` gives them)
    /// applied and validated.
    ///
    /// - Throws: ``ReservoirError/Code/invalidArgument`` naming the setting for an unknown name or
    ///   a value that does not parse or is out of range.
    public func applying(_ settings: [(name: String, value: String)]) throws(ReservoirError) -> TopicConfig {
        var config = self
        // Size limits still at the defaults derived from the segment size follow it when only the
        // segment size changes, as they do when a topic is created with that size: one setting,
        // one meaning, whether given by its flag or by `--set`.
        let named = Set(settings.map { Self.kafkaNames[$0.name] ?? $0.name })
        let derivedBatch = maxBatchBytes == min(16 << 20, segmentBytes) && !named.contains("maxBatchBytes")
        let derivedRecord = maxRecordBytes == min(1 << 20, maxBatchBytes) && !named.contains("maxRecordBytes")
        for (rawName, value) in settings {
            let name = Self.kafkaNames[rawName] ?? rawName
            func bad(_ expected: String) -> ReservoirError {
                ReservoirError(.invalidArgument, "setting \(rawName)=\(value): expected \(expected)")
            }
            func int() throws(ReservoirError) -> Int {
                guard let number = Int(value) else { throw bad("an integer") }
                return number
            }
            func int64() throws(ReservoirError) -> Int64 {
                guard let number = Int64(value) else { throw bad("an integer") }
                return number
            }
            switch name {
            case "partitions": config.partitions = try int()
            case "compression":
                guard let codec = CompressionCodec(name: value) else { throw bad("none, gzip, snappy, lz4 or zstd") }
                config.compression = codec
            case "compressionLevel": config.compressionLevel = try int()
            case "segmentBytes": config.segmentBytes = try int()
            case "segmentMs": config.segmentMs = try int64()
            case "indexIntervalBytes": config.indexIntervalBytes = try int()
            case "maxIndexBytes": config.maxIndexBytes = try int()
            case "flush":
                guard let policy = FlushPolicy(parsing: value) else { throw bad("durable, interval:N, interval:Tms or none") }
                config.flushPolicy = policy
            case "maxRecordBytes": config.maxRecordBytes = try int()
            case "maxBatchBytes": config.maxBatchBytes = try int()
            case "preallocateBytes": config.preallocateBytes = try int()
            case "cleanup":
                guard let policy = CleanupPolicy(parsing: value) else { throw bad("delete, compact or compact,delete") }
                config.cleanup = policy
            case "retentionMs": config.retentionMs = try int64()
            case "retentionBytes": config.retentionBytes = try int64()
            case "deleteRetentionMs": config.deleteRetentionMs = try int64()
            case "minCleanableDirtyRatio":
                guard let ratio = Double(value) else { throw bad("a number between 0 and 1") }
                config.minCleanableDirtyRatio = ratio
            case "minCompactionLagMs": config.minCompactionLagMs = try int64()
            case "maxCompactionLagMs": config.maxCompactionLagMs = try int64()
            case "fileDeleteDelayMs": config.fileDeleteDelayMs = try int64()
            default:
                throw ReservoirError(.invalidArgument, "unknown setting \(rawName): known settings are \(Self.settingNames.joined(separator: ", "))")
            }
        }
        if derivedBatch { config.maxBatchBytes = min(16 << 20, config.segmentBytes) }
        if derivedRecord { config.maxRecordBytes = min(1 << 20, config.maxBatchBytes) }
        try config.validate()
        return config
    }

    /// Every setting by name with its value as text, in ``settingNames`` order.
    public var settings: [(name: String, value: String)] {
        [
            ("partitions", "\(partitions)"), ("compression", compression.description),
            ("compressionLevel", "\(compressionLevel)"), ("segmentBytes", "\(segmentBytes)"), ("segmentMs", "\(segmentMs)"),
            ("indexIntervalBytes", "\(indexIntervalBytes)"), ("maxIndexBytes", "\(maxIndexBytes)"),
            ("flush", flushPolicy.description), ("maxRecordBytes", "\(maxRecordBytes)"), ("maxBatchBytes", "\(maxBatchBytes)"),
            ("preallocateBytes", "\(preallocateBytes)"), ("cleanup", cleanup.description), ("retentionMs", "\(retentionMs)"),
            ("retentionBytes", "\(retentionBytes)"), ("deleteRetentionMs", "\(deleteRetentionMs)"),
            ("minCleanableDirtyRatio", "\(minCleanableDirtyRatio)"), ("minCompactionLagMs", "\(minCompactionLagMs)"),
            ("maxCompactionLagMs", "\(maxCompactionLagMs)"), ("fileDeleteDelayMs", "\(fileDeleteDelayMs)"),
        ]
    }

    // MARK: Codable

    // Codable by hand, and strict: a stored configuration is read exactly or not at all. A key
    // this version does not know, a value of the wrong type or one out of range is an error that
    // names the key and the value (a misread `cleanup` would turn a compacted topic into one that
    // retention deletes). A key missing from an older file takes its default.
    private enum Key: String, CodingKey, CaseIterable {
        case partitions, compression, compressionLevel, segmentBytes, segmentMs, indexIntervalBytes, maxIndexBytes, flush
        case maxRecordBytes, maxBatchBytes, preallocateBytes, cleanup, retentionMs, retentionBytes, deleteRetentionMs
        case minCleanableDirtyRatio, minCompactionLagMs, maxCompactionLagMs, fileDeleteDelayMs
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let names = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = names.first(where: { Key(rawValue: $0) == nil }) {
            throw ReservoirError(.corruptData, "unknown setting \"\(unknown)\": known settings are \(Key.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let container = try decoder.container(keyedBy: Key.self)
        let defaults = TopicConfig()
        func value<T: Decodable>(_ key: Key, _ fallback: T) throws -> T {
            do {
                return try container.decodeIfPresent(T.self, forKey: key) ?? fallback
            } catch {
                throw ReservoirError(.corruptData, "setting \(key.rawValue) is not \(T.self == String.self ? "a string" : T.self == Double.self ? "a number" : "an integer"): \(error)")
            }
        }
        func parsed<T>(_ key: Key, _ fallback: String, _ expected: String, _ parse: (String) -> T?) throws -> T {
            let text: String = try value(key, fallback)
            guard let result = parse(text) else {
                throw ReservoirError(.corruptData, "setting \(key.rawValue) = \"\(text)\" is not valid: expected \(expected)")
            }
            return result
        }
        guard container.contains(.partitions) else { throw ReservoirError(.corruptData, "setting partitions is missing") }
        partitions = try value(.partitions, 0)
        compression = try parsed(.compression, "none", "none, gzip, snappy, lz4 or zstd", CompressionCodec.init(name:))
        compressionLevel = try value(.compressionLevel, defaults.compressionLevel)
        segmentBytes = try value(.segmentBytes, defaults.segmentBytes)
        segmentMs = try value(.segmentMs, defaults.segmentMs)
        indexIntervalBytes = try value(.indexIntervalBytes, defaults.indexIntervalBytes)
        maxIndexBytes = try value(.maxIndexBytes, defaults.maxIndexBytes)
        flushPolicy = try parsed(.flush, "none", "durable, interval:N, interval:Tms or none", FlushPolicy.init(parsing:))
        maxBatchBytes = try value(.maxBatchBytes, min(16 << 20, segmentBytes))
        maxRecordBytes = try value(.maxRecordBytes, min(defaults.maxRecordBytes, maxBatchBytes))
        preallocateBytes = try value(.preallocateBytes, 0)
        cleanup = try parsed(.cleanup, "delete", "delete, compact or compact,delete", CleanupPolicy.init(parsing:))
        retentionMs = try value(.retentionMs, defaults.retentionMs)
        retentionBytes = try value(.retentionBytes, defaults.retentionBytes)
        deleteRetentionMs = try value(.deleteRetentionMs, defaults.deleteRetentionMs)
        minCleanableDirtyRatio = try value(.minCleanableDirtyRatio, defaults.minCleanableDirtyRatio)
        minCompactionLagMs = try value(.minCompactionLagMs, defaults.minCompactionLagMs)
        maxCompactionLagMs = try value(.maxCompactionLagMs, defaults.maxCompactionLagMs)
        fileDeleteDelayMs = try value(.fileDeleteDelayMs, defaults.fileDeleteDelayMs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(partitions, forKey: .partitions)
        try container.encode(compression.description, forKey: .compression)
        try container.encode(compressionLevel, forKey: .compressionLevel)
        try container.encode(segmentBytes, forKey: .segmentBytes)
        try container.encode(segmentMs, forKey: .segmentMs)
        try container.encode(indexIntervalBytes, forKey: .indexIntervalBytes)
        try container.encode(maxIndexBytes, forKey: .maxIndexBytes)
        try container.encode(flushPolicy.description, forKey: .flush)
        try container.encode(maxRecordBytes, forKey: .maxRecordBytes)
        try container.encode(maxBatchBytes, forKey: .maxBatchBytes)
        try container.encode(preallocateBytes, forKey: .preallocateBytes)
        try container.encode(cleanup.description, forKey: .cleanup)
        try container.encode(retentionMs, forKey: .retentionMs)
        try container.encode(retentionBytes, forKey: .retentionBytes)
        try container.encode(deleteRetentionMs, forKey: .deleteRetentionMs)
        try container.encode(minCleanableDirtyRatio, forKey: .minCleanableDirtyRatio)
        try container.encode(minCompactionLagMs, forKey: .minCompactionLagMs)
        try container.encode(maxCompactionLagMs, forKey: .maxCompactionLagMs)
        try container.encode(fileDeleteDelayMs, forKey: .fileDeleteDelayMs)
    }
}
