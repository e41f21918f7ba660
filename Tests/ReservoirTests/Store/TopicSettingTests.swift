import Foundation
import Testing
@testable import Reservoir

/// The table of topic settings: every setting parses, describes, stores and validates from it.
@Suite("Topic settings table")
struct TopicSettingTests {
    /// A configuration with every setting away from its default.
    static let changed = TopicConfig(
        partitions: 3, compression: .zstd, compressionLevel: 5, segmentBytes: 1 << 22, segmentMs: 3_600_000,
        indexIntervalBytes: 1024, maxIndexBytes: 1 << 16, flushPolicy: .everyMilliseconds(50), maxRecordBytes: 4096,
        maxBatchBytes: 1 << 20, preallocateBytes: 1 << 20, cleanup: [.compact, .delete], retentionMs: 1000, retentionBytes: 1 << 30,
        deleteRetentionMs: 5, minCleanableDirtyRatio: 0.25, minCompactionLagMs: 7, maxCompactionLagMs: 70, fileDeleteDelayMs: 9)

    @Test("each setting is listed once, described, and differs from its default in the sample")
    func everySettingListed() {
        let names = TopicSetting.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(TopicConfig.settingNames == names)
        #expect(TopicConfig().settings.map(\.name) == names)
        for setting in TopicSetting.all {
            #expect(!setting.summary.isEmpty && !setting.expected.isEmpty)
            #expect(setting.value(in: Self.changed) != setting.defaultValue, "\(setting.name)")
        }
    }

    @Test("by name and by Kafka's name, from text: the same configuration; every value survives topic.json")
    func textAndJSON() throws {
        let byName = try TopicConfig().applying(Self.changed.settings)
        #expect(byName == Self.changed)
        let byKafkaName = try TopicConfig().applying(TopicSetting.all.map { ($0.kafkaName ?? $0.name, $0.value(in: Self.changed)) })
        #expect(byKafkaName == Self.changed)
        let json = try JSONEncoder().encode(Self.changed)
        #expect(try JSONDecoder().decode(TopicConfig.self, from: json) == Self.changed)
    }

    @Test("the stored form of the defaults is unchanged: sorted keys, typed values")
    func storedDefaults() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text = String(decoding: try encoder.encode(TopicConfig()), as: UTF8.self)
        #expect(
            text == """
                {
                  "cleanup" : "delete",
                  "compression" : "none",
                  "compressionLevel" : 0,
                  "deleteRetentionMs" : 86400000,
                  "fileDeleteDelayMs" : 60000,
                  "flush" : "none",
                  "indexIntervalBytes" : 4096,
                  "maxBatchBytes" : 16777216,
                  "maxCompactionLagMs" : 9223372036854775807,
                  "maxIndexBytes" : 10485760,
                  "maxRecordBytes" : 1048576,
                  "minCleanableDirtyRatio" : 0.5,
                  "minCompactionLagMs" : 0,
                  "partitions" : 1,
                  "preallocateBytes" : 0,
                  "retentionBytes" : -1,
                  "retentionMs" : 604800000,
                  "segmentBytes" : 1073741824,
                  "segmentMs" : 604800000
                }
                """)
    }

    @Test("a stored value of the wrong type or against its setting's rule is an error naming key and value")
    func strictStoredValues() throws {
        let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TopicConfig())) as? [String: Any] ?? [:]
        for setting in TopicSetting.all {
            let bad: [Any] =
                switch setting.kind {
                case .integer: ["12", 1.5, Int64.min]
                case .number: ["half", 2.0]
                case .text: [7, "nonsense"]
                }
            for value in bad where !(setting.name == "compressionLevel" && value is Int64) {
                var object = base
                object[setting.name] = value
                let data = try JSONSerialization.data(withJSONObject: object)
                #expect {
                    try JSONDecoder().decode(TopicConfig.self, from: data)
                } throws: { error in
                    (error as? ReservoirError)?.message.contains(setting.name) == true
                }
            }
        }
        var unknown = base
        unknown["retentoinMs"] = 5
        #expect {
            try JSONDecoder().decode(TopicConfig.self, from: JSONSerialization.data(withJSONObject: unknown))
        } throws: { error in
            (error as? ReservoirError)?.message.contains("retentoinMs") == true
        }
    }

    @Test("text values out of range name the setting and what it accepts")
    func textErrors() {
        for (name, value, expected) in [
            ("retentionMs", "-2", "an integer ≥ -1"), ("partitions", "0", "an integer from 1 to 10000"),
            ("cleanup", "compacted", "delete, compact or compact,delete"),
            ("min.cleanable.dirty.ratio", "1.5", "a number between 0 and 1"),
        ] {
            #expect {
                try TopicConfig().applying([(name, value)])
            } throws: { error in
                (error as? ReservoirError)?.message == "setting \(name)=\(value): expected \(expected)"
            }
        }
    }
}

extension TopicSettingTests {
    @Test("Docs/OPERATIONS.md lists every setting of the table, in its order, with its default")
    func documented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Docs/OPERATIONS.md")
        let rows = try String(contentsOf: docs, encoding: .utf8).split(separator: "\n").compactMap { line -> (String, String)? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 3, cells[1].hasPrefix("`"), cells[1].hasSuffix("`"), cells[1].count > 2 else { return nil }
            let name = String(cells[1].dropFirst().dropLast())
            guard TopicSetting.named(name) != nil else { return nil }
            return (name, cells[2].replacingOccurrences(of: "`", with: ""))
        }
        #expect(rows.map(\.0) == TopicSetting.all.map(\.name))
        for (row, setting) in zip(rows, TopicSetting.all) {
            #expect(row.1.hasPrefix(setting.defaultValue), "\(setting.name): documented \(row.1), default \(setting.defaultValue)")
        }
    }
}
