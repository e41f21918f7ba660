/// A topic's persisted configuration.
///
/// Defaults follow Kafka's where Kafka has the setting. Every setting but the partition count's
/// lower bound can be changed on an existing topic (``Reservoir/alterTopic(_:settings:)``).
/// ``TopicSetting/all`` lists them with their names, rules and meaning.
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
    /// Bytes of file space prepared ahead of the active segment's writer. 0, the default, is
    /// automatic: 4 MiB once a partition takes durable appends (an fsync then finds the space
    /// allocated instead of also committing a growing file's size), none for buffered ones (where
    /// it costs throughput on small machines); -1 turns it off. See Docs/BENCHMARKS.md.
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
        let batch = maxBatchBytes ?? Self.derivedMaxBatchBytes(segmentBytes: segmentBytes)
        self.maxBatchBytes = batch
        self.maxRecordBytes = maxRecordBytes ?? Self.derivedMaxRecordBytes(maxBatchBytes: batch)
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

    /// Checks every setting against its rule in ``TopicSetting/all``, then the rules that tie
    /// settings together.
    func validate() throws(ReservoirError) {
        for setting in TopicSetting.all {
            var copy = self
            guard setting.apply(setting.read(self), to: &copy) else {
                throw ReservoirError(.invalidArgument, "setting \(setting.name)=\(setting.value(in: self)): expected \(setting.expected)")
            }
        }
        guard maxBatchBytes >= maxRecordBytes else {
            throw ReservoirError(
                .invalidArgument,
                "max record bytes \(maxRecordBytes) exceeds max batch bytes \(maxBatchBytes): a record must fit in a batch")
        }
        guard maxBatchBytes <= segmentBytes else {
            throw ReservoirError(
                .invalidArgument,
                "max batch bytes \(maxBatchBytes) exceeds segment bytes \(segmentBytes): lower max batch bytes or raise segment bytes")
        }
        guard !cleanup.isEmpty else { throw ReservoirError(.invalidArgument, "cleanup must be delete, compact or compact,delete") }
        try logConfig.validate()
    }

    /// The settings of the partition logs, derived from this configuration.
    var logConfig: LogConfig {
        LogConfig(
            segmentBytes: segmentBytes, segmentMs: segmentMs, indexIntervalBytes: indexIntervalBytes,
            maxIndexBytes: maxIndexBytes, flushPolicy: flushPolicy, preallocateBytes: preallocateBytes)
    }

    /// The settings of a compaction pass, derived from this configuration.
    var cleanerSettings: LogCleaner.Settings {
        LogCleaner.Settings(
            deleteRetentionMs: deleteRetentionMs, minCompactionLagMs: minCompactionLagMs, compression: compression,
            compressionLevel: compressionLevel, segmentBytes: segmentBytes, maxIndexBytes: maxIndexBytes,
            deleteDelayMs: fileDeleteDelayMs)
    }

    // MARK: Settings by name

    /// The names ``applying(_:)`` accepts (Kafka's dotted names work too; see ``TopicSetting/all``).
    public static let settingNames: [String] = TopicSetting.all.map(\.name)

    /// The setting name `name` stands for (itself, or the name a Kafka alias maps to).
    public static func settingName(for name: String) -> String { TopicSetting.named(name)?.name ?? name }

    /// The batch limit that follows the segment size unless set.
    static func derivedMaxBatchBytes(segmentBytes: Int) -> Int { min(16 << 20, segmentBytes) }
    /// The record limit that follows the batch limit unless set.
    static func derivedMaxRecordBytes(maxBatchBytes: Int) -> Int { min(1 << 20, maxBatchBytes) }

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
        let named = Set(settings.map { Self.settingName(for: $0.name) })
        let derivedBatch = maxBatchBytes == Self.derivedMaxBatchBytes(segmentBytes: segmentBytes) && !named.contains("maxBatchBytes")
        let derivedRecord = maxRecordBytes == Self.derivedMaxRecordBytes(maxBatchBytes: maxBatchBytes) && !named.contains("maxRecordBytes")
        for (name, value) in settings {
            guard let setting = TopicSetting.named(name) else {
                throw ReservoirError(
                    .invalidArgument, "unknown setting \(name): known settings are \(Self.settingNames.joined(separator: ", "))")
            }
            try setting.apply(value, to: &config, as: name)
        }
        if derivedBatch { config.maxBatchBytes = Self.derivedMaxBatchBytes(segmentBytes: config.segmentBytes) }
        if derivedRecord { config.maxRecordBytes = Self.derivedMaxRecordBytes(maxBatchBytes: config.maxBatchBytes) }
        try config.validate()
        return config
    }

    /// Every setting by name with its value as text, in ``settingNames`` order.
    public var settings: [(name: String, value: String)] {
        TopicSetting.all.map { ($0.name, $0.value(in: self)) }
    }

    // MARK: Codable

    // Strict, from the table: a stored configuration is read exactly or not at all. A key this
    // version does not know, a value of the wrong type or one that breaks its setting's rule is an
    // error naming the key and the value (a misread `cleanup` would turn a compacted topic into
    // one that retention deletes). A key missing from an older file takes its default; the size
    // limits' defaults follow the segment size, as when the topic was created.
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let names = Set(container.allKeys.map(\.stringValue))
        if let unknown = names.sorted().first(where: { name in !TopicSetting.all.contains { $0.name == name } }) {
            throw ReservoirError(
                .corruptData, "unknown setting \"\(unknown)\": known settings are \(Self.settingNames.joined(separator: ", "))")
        }
        guard names.contains("partitions") else { throw ReservoirError(.corruptData, "setting partitions is missing") }
        var config = TopicConfig()
        for setting in TopicSetting.all where names.contains(setting.name) {
            let key = Key(stringValue: setting.name)
            let value: TopicSetting.Value
            do {
                switch setting.kind {
                case .integer: value = .integer(try container.decode(Int64.self, forKey: key))
                case .number: value = .number(try container.decode(Double.self, forKey: key))
                case .text: value = .text(try container.decode(String.self, forKey: key))
                }
            } catch {
                throw ReservoirError(.corruptData, "setting \(setting.name) is not \(setting.expected): \(error)")
            }
            guard setting.apply(value, to: &config) else {
                throw ReservoirError(.corruptData, "setting \(setting.name) = \(value) is not valid: expected \(setting.expected)")
            }
        }
        if !names.contains("maxBatchBytes") { config.maxBatchBytes = Self.derivedMaxBatchBytes(segmentBytes: config.segmentBytes) }
        if !names.contains("maxRecordBytes") { config.maxRecordBytes = Self.derivedMaxRecordBytes(maxBatchBytes: config.maxBatchBytes) }
        self = config
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for setting in TopicSetting.all {
            let key = Key(stringValue: setting.name)
            switch setting.read(self) {
            case .integer(let value): try container.encode(value, forKey: key)
            case .number(let value): try container.encode(value, forKey: key)
            case .text(let value): try container.encode(value, forKey: key)
            }
        }
    }
}
