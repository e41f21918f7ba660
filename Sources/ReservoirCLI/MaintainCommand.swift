import ArgumentParser
import Foundation
import Reservoir

struct MaintainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintain",
        abstract: "Run a maintenance pass now: time-based roll, retention, compaction.",
        discussion: "With neither --retention nor --compact, both run.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "Only this topic.") var topic: String?
    @Flag(help: "Apply retention (time, size, log start).") var retention = false
    @Flag(help: "Compact topics with cleanup=compact.") var compact = false
    @Flag(help: "Compact whatever the dirty ratio and lags say.") var force = false

    func run() throws {
        let both = !retention && !compact
        let reservoir = try store.open()
        defer { reservoir.closeOrExit() }
        let report = try reservoir.maintain(topic: topic, retention: both || retention, compaction: both || compact,
                                            ignoringDirtyRatio: force)
        if report.partitions.isEmpty { print("nothing to do") }
        for entry in report.partitions {
            var parts: [String] = []
            if entry.rolled { parts.append("rolled the active segment") }
            if entry.retention.segments > 0 {
                parts.append("retention removed \(entry.retention.records) records, \(entry.retention.bytes) bytes in \(entry.retention.segments) segments")
            }
            if entry.compacted {
                parts.append(String(format: "compaction removed %d records, %d bytes (dirty ratio was %.3f, %.3f s)",
                                    entry.recordsCompacted, entry.bytesCompacted, entry.dirtyRatio, entry.cleanerSeconds))
            }
            print("\(entry.topic)-\(entry.partition): \(parts.joined(separator: "; "))")
        }
    }
}

struct DeleteRecordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-records",
        abstract: "Make the records of a partition before an offset unreadable and delete the segments below it.")
    @OptionGroup var store: StoreOptions
    @Argument var topic: String
    @Option(help: "The partition.") var partition: Int
    @Option(help: "The new first offset of the partition.") var before: Int64

    func run() throws {
        let reservoir = try store.open()
        defer { reservoir.closeOrExit() }
        let removal = try reservoir.deleteRecords(topic: topic, partition: partition, before: before)
        let log = try reservoir.log(topic: topic, partition: partition)
        print("\(topic)-\(partition): log start offset \(log.startOffset); removed \(removal.segments) segments (\(removal.records) records, \(removal.bytes) bytes)")
    }
}
