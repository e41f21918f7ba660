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
        let report = try ProgressLine("maintain").whileRunning {
            try reservoir.maintain(
                topic: topic, retention: both || retention, compaction: both || compact,
                ignoringDirtyRatio: force)
        }
        if report.partitions.isEmpty { print("nothing to do") }
        for entry in report.partitions {
            var parts: [String] = []
            if entry.rolled { parts.append("rolled the active segment") }
            if entry.retention.segments > 0 {
                parts.append(
                    "retention removed \(entry.retention.records) records, \(formatBytes(entry.retention.bytes)) in \(entry.retention.segments) segments"
                )
            }
            if entry.compacted {
                let ratio = String(format: "%.3f", entry.dirtyRatio)
                let seconds = String(format: "%.3f", entry.cleanerSeconds)
                parts.append(
                    "compaction removed \(entry.recordsCompacted) records, \(formatBytes(entry.bytesCompacted)) (dirty ratio was \(ratio), \(seconds) s)"
                )
            }
            print("\(entry.topic)-\(entry.partition): \(parts.joined(separator: "; "))")
        }
    }
}
