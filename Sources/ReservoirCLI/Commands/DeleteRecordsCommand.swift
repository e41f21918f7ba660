import ArgumentParser
import Foundation
import Reservoir

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
        let removal = try ProgressLine("delete-records").whileRunning {
            try reservoir.deleteRecords(topic: topic, partition: partition, before: before)
        }
        let log = try reservoir.log(topic: topic, partition: partition)
        print(
            "\(topic)-\(partition): log start offset \(log.startOffset); removed \(removal.segments) segments (\(removal.records) records, \(removal.bytes) bytes)"
        )
    }
}
