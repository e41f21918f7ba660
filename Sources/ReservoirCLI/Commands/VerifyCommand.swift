import ArgumentParser
import Reservoir

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every batch, index and offset; exit 0 when sound, 1 with a report of the damage.",
        discussion: """
            Reads only, and works on a store another process has open. With --repair (the store \
            must be closed), every batch that passes its checks is kept, each damaged segment's \
            original file is moved into its partition's quarantine/ folder, and offsets that were \
            lost are marked with empty batches so that readers continue past them.
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "Only this topic.") var topic: String?
    @Flag(help: "Repair the damage found (keep what is intact, quarantine the damaged files).") var repair = false

    func run() throws {
        let line = ProgressLine("verify")
        let report = try line.whileRunning {
            try StoreVerifier.verify(directory: store.path, topic: topic) { report in
                line.update("\(report.segments) segments, \(report.batches) batches, \(report.records) records")
            }
        }
        print("checked \(report.segments) segments, \(report.batches) batches, \(report.records) records")
        for problem in report.problems { print("\(problem.isDamage ? "damaged" : "unsynced tail"): \(problem)") }
        if report.isSound {
            print("sound")
            return
        }
        let damaged = report.problems.filter(\.isDamage).count
        guard repair else {
            throw CLIFailure(
                "\(damaged) problem\(damaged == 1 ? "" : "s") found; `reservoir verify --repair` keeps what is intact and quarantines the rest"
            )
        }
        var options = Reservoir.Options(logger: quietLogger())
        options.repairDamage = true
        let repaired = try Reservoir.open(at: store.path, options: options)
        for name in repaired.topicNames where topic == nil || name == topic {
            for partition in 0..<(try repaired.topic(name).config.partitions) {
                let log = try repaired.log(topic: name, partition: partition)
                for range in log.openReport.repaired { print("repaired: \(name) partition \(partition): \(range)") }
                for file in log.openReport.quarantinedFiles { print("quarantined: \(file)") }
            }
        }
        try repaired.close()
        let after = try StoreVerifier.verify(directory: store.path, topic: topic)
        guard after.isSound else {
            for problem in after.problems where problem.isDamage { print("still damaged: \(problem)") }
            throw CLIFailure("the repair left damage it cannot fix on its own (see above)")
        }
        print("sound")
    }
}
