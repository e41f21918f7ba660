/// Every file and folder name of a store, in one place (as LevelDB's `db/filename.h`):
///
/// ```
/// <root>/reservoir.format                       the format line
/// <root>/.lock                                  the exclusive lock (and the holder's pid)
/// <root>/.clean-shutdown                        present only while the store is closed cleanly
/// <root>/recovery-point-offset-checkpoint       Kafka's checkpoint format, per partition
/// <root>/log-start-offset-checkpoint
/// <root>/cleaner-offset-checkpoint
/// <root>/producer-id-block                      the next idempotent producer id not yet reserved
/// <root>/topics/<topic>/topic.json              the topic's settings
/// <root>/topics/<topic>/<partition>/            a partition's segments (``SegmentFiles``) and
///                                               producer snapshots (``ProducerSnapshot``)
/// <root>/topics/<topic>/<partition>/quarantine/ originals of repaired segments
/// ```
struct StoreLayout: Sendable, Hashable {
    let root: String

    init(_ root: String) { self.root = root }

    var formatFile: String { root + "/reservoir.format" }
    var lockFile: String { root + "/.lock" }
    var cleanShutdownMarker: String { root + "/.clean-shutdown" }
    var recoveryPointCheckpoint: String { root + "/recovery-point-offset-checkpoint" }
    var logStartCheckpoint: String { root + "/log-start-offset-checkpoint" }
    var cleanerCheckpoint: String { root + "/cleaner-offset-checkpoint" }
    var producerIdBlock: String { root + "/producer-id-block" }
    var topicsDirectory: String { root + "/topics" }

    /// Names in the root that are not a store's own: a directory holding only these may become one.
    static let lockFileName = ".lock"

    func topicDirectory(_ topic: String) -> String { topicsDirectory + "/" + topic }

    /// Where a deleted topic's directory goes before its files are removed: a name no topic can
    /// have ('~' is not allowed in topic names), so that a crash in between leaves a directory the
    /// next open removes instead of a topic it opens.
    func deletedTopicDirectory(_ topic: String, stamp: Int64) -> String { topicsDirectory + "/" + topic + "~deleted-\(stamp)" }
    /// Whether a name in the topics directory is a deleted topic's, to remove at open.
    static func isDeletedTopicDirectory(_ name: String) -> Bool { name.contains("~deleted-") }
    func topicSettings(_ topic: String) -> String { topicDirectory(topic) + "/topic.json" }
    func partitionDirectory(_ partition: TopicPartition) -> String {
        topicDirectory(partition.topic) + "/" + String(partition.partition)
    }

    /// The partition number a partition directory's name stands for, or nil for another name.
    static func partitionNumber(_ name: String) -> Int? {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(name) else { return nil }
        return number
    }

    /// The folder of a partition directory where repaired segments' originals are kept.
    static func quarantineDirectory(inPartition directory: String) -> String { directory + "/quarantine" }
}
