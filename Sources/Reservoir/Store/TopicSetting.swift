/// One topic setting: its names, type, default, rule and meaning.
///
/// ``all`` is the one table of topic settings, in the spirit of Kafka's `LogConfig` definitions:
/// parsing (`topic alter --set`), `topic describe`, the stored `topic.json` (written and read
/// strictly) and the validation of each value all come from it.
public struct TopicSetting: Sendable {
    /// How a setting's value is written in `topic.json`.
    public enum Kind: Sendable {
        /// A whole number.
        case integer
        /// A decimal number.
        case number
        /// Text.
        case text
    }

    /// A setting's value, typed as stored.
    enum Value: Sendable, Equatable, CustomStringConvertible {
        case integer(Int64)
        case number(Double)
        case text(String)

        var description: String {
            switch self {
            case .integer(let value): "\(value)"
            case .number(let value): "\(value)"
            case .text(let value): value
            }
        }
    }

    /// Reservoir's name (`retentionMs`), the key in `topic.json`.
    public let name: String
    /// Kafka's name (`retention.ms`), accepted as an alias; nil where Kafka has no such setting.
    public let kafkaName: String?
    /// The kind of value the setting takes.
    public let kind: Kind
    /// What the setting does, with its default.
    public let summary: String
    /// The values accepted, in words.
    public let expected: String
    let read: @Sendable (TopicConfig) -> Value
    /// Sets a value already of the setting's kind; nil when it breaks the setting's rule.
    let write: @Sendable (inout TopicConfig, Value) -> Bool

    /// The setting's value in `config`, as text.
    public func value(in config: TopicConfig) -> String { read(config).description }

    /// The setting's default, as text.
    public var defaultValue: String { value(in: TopicConfig()) }

    /// Sets the setting from text (as `--set` gives it).
    ///
    /// - Throws: ``ReservoirError/Code/invalidArgument`` naming the setting, the value and what is expected.
    func apply(_ text: String, to config: inout TopicConfig, as given: String) throws(ReservoirError) {
        let value: Value? =
            switch kind {
            case .integer: Int64(text).map(Value.integer)
            case .number: Double(text).map(Value.number)
            case .text: .text(text)
            }
        guard let value, write(&config, value) else {
            throw ReservoirError(.invalidArgument, "setting \(given)=\(text): expected \(expected)")
        }
    }

    /// Sets the setting from a typed value (as `topic.json` holds it); false when it breaks the rule.
    func apply(_ value: Value, to config: inout TopicConfig) -> Bool { write(&config, value) }

    // MARK: The table

    /// Every topic setting, in the order `topic describe` shows them.
    public static let all: [TopicSetting] = [
        integer("partitions", nil, \.partitions, 1...10_000, "Number of partitions: can grow, never shrink."),
        text(
            "compression", "compression.type", "none, gzip, snappy, lz4 or zstd",
            "Codec of the batches Reservoir writes (existing batches keep theirs).",
            get: { $0.compression.description },
            set: { config, text in CompressionCodec(name: text).map { config.compression = $0 } != nil }),
        integer(
            "compressionLevel", nil, \.compressionLevel, Int64(Int32.min)...Int64(Int32.max),
            "The codec's level; 0 takes the codec's default (LZ4's fast mode, gzip 6, zstd 3); 3 to 12 select LZ4-HC."),
        integer(
            "segmentBytes", "segment.bytes", \.segmentBytes, Int64(LogConfig.minimumSegmentBytes)...Int64(Int32.max),
            "Roll to a new segment before one grows past this many bytes."),
        integer(
            "segmentMs", "segment.ms", \.segmentMs, 1...Int64.max,
            "Roll the active segment once its first record is this old, in ms, so that retention and compaction reach its records."),
        integer(
            "indexIntervalBytes", "index.interval.bytes", \.indexIntervalBytes, 0...Int64(Int32.max),
            "An offset-index entry every this many bytes of log."),
        integer(
            "maxIndexBytes", "segment.index.bytes", \.maxIndexBytes, Int64(4 * TimeIndex.entrySize)...Int64(Int32.max),
            "The preallocated size of each index file."),
        text(
            "flush", nil, "durable, interval:N, interval:Tms or none",
            "When the partitions fsync on their own: every append (durable), every N records or T ms, or on roll and close (none).",
            get: { $0.flushPolicy.description }, set: { config, text in FlushPolicy(parsing: text).map { config.flushPolicy = $0 } != nil }),
        integer(
            "maxRecordBytes", nil, \.maxRecordBytes, 1...Int64(Int32.max),
            "The largest encoded record accepted (1 MiB, at most the batch limit)."),
        integer(
            "maxBatchBytes", "max.message.bytes", \.maxBatchBytes, 1...Int64(Int32.max),
            "The largest encoded batch accepted (16 MiB, at most the segment size)."),
        integer(
            "preallocateBytes", nil, \.preallocateBytes, -1...Int64(Int32.max),
            "Bytes of file space prepared ahead of the active segment's writer: 0 (automatic) prepares 4 MiB once a partition takes durable appends, -1 never."
        ),
        text(
            "cleanup", "cleanup.policy", "delete, compact or compact,delete",
            "Delete old segments, compact by key, or both.",
            get: { $0.cleanup.description }, set: { config, text in CleanupPolicy(parsing: text).map { config.cleanup = $0 } != nil }),
        integer(
            "retentionMs", "retention.ms", \.retentionMs, -1...Int64.max,
            "With delete: segments whose newest record is older than this are deleted, in ms (-1 keeps them)."),
        integer(
            "retentionBytes", "retention.bytes", \.retentionBytes, -1...Int64.max,
            "With delete: the oldest segments go while a partition holds more than this (-1: no limit)."),
        integer(
            "deleteRetentionMs", "delete.retention.ms", \.deleteRetentionMs, 0...Int64.max,
            "With compact: how long a tombstone stays readable after the cleaner first sees it, in ms."),
        TopicSetting(
            name: "minCleanableDirtyRatio", kafkaName: "min.cleanable.dirty.ratio", kind: .number,
            summary: "With compact: a partition is cleaned once this share of its cleanable bytes is dirty.",
            expected: "a number between 0 and 1", read: { .number($0.minCleanableDirtyRatio) },
            write: { config, value in
                guard case .number(let ratio) = value, ratio >= 0, ratio <= 1 else { return false }
                config.minCleanableDirtyRatio = ratio
                return true
            }),
        integer(
            "minCompactionLagMs", "min.compaction.lag.ms", \.minCompactionLagMs, 0...Int64.max,
            "With compact: records younger than this (by timestamp, in ms) are never compacted."),
        integer(
            "maxCompactionLagMs", "max.compaction.lag.ms", \.maxCompactionLagMs, 0...Int64.max,
            "With compact: a partition whose oldest dirty record is older than this is cleaned whatever its dirty ratio, in ms."),
        integer(
            "fileDeleteDelayMs", "file.delete.delay.ms", \.fileDeleteDelayMs, 0...Int64.max,
            "Removed segments are renamed .deleted and their files removed this much later, in ms."),
    ]

    /// The setting called `name` (Reservoir's or Kafka's name), or nil.
    public static func named(_ name: String) -> TopicSetting? {
        all.first { $0.name == name || $0.kafkaName == name }
    }

    /// An integer setting stored in `path` (an `Int` or `Int64` field), within `range`.
    private static func integer<Field: FixedWidthInteger & Sendable>(
        _ name: String, _ kafkaName: String?, _ path: any WritableKeyPath<TopicConfig, Field> & Sendable, _ range: ClosedRange<Int64>,
        _ summary: String
    ) -> TopicSetting {
        TopicSetting(
            name: name, kafkaName: kafkaName, kind: .integer, summary: summary, expected: Self.describe(range),
            read: { .integer(Int64($0[keyPath: path])) },
            write: { config, value in
                guard case .integer(let number) = value, range.contains(number), let fitting = Field(exactly: number) else { return false }
                config[keyPath: path] = fitting
                return true
            })
    }

    private static func text(
        _ name: String, _ kafkaName: String?, _ expected: String, _ summary: String,
        get: @escaping @Sendable (TopicConfig) -> String, set: @escaping @Sendable (inout TopicConfig, String) -> Bool
    ) -> TopicSetting {
        TopicSetting(
            name: name, kafkaName: kafkaName, kind: .text, summary: summary, expected: expected,
            read: { .text(get($0)) },
            write: { config, value in
                guard case .text(let text) = value else { return false }
                return set(&config, text)
            })
    }

    private static func describe(_ range: ClosedRange<Int64>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (_, Int64.max): "an integer ≥ \(range.lowerBound)"
        default: "an integer from \(range.lowerBound) to \(range.upperBound)"
        }
    }
}
