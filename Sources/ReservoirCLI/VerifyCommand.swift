import ArgumentParser
import Reservoir

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check every batch and index; exit 0 when sound, 1 with a report of the damage.")

    @OptionGroup var store: StoreOptions
    @Argument(help: "Only this topic.") var topic: String?

    func run() throws {
        let report = try StoreVerifier.verify(directory: store.path, topic: topic)
        print("checked \(report.segments) segments, \(report.batches) batches, \(report.records) records")
        guard report.isSound else {
            for problem in report.problems { print("damaged: \(problem)") }
            throw CLIFailure("\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") found")
        }
        print("sound")
    }
}
