import Foundation
import Testing
@testable import Reservoir

/// `reservoir bench peak` as a capacity tool: the limit search, what a burst costs, rate
/// profiles, comparisons, and its errors, each checked against a count of its own.
@Suite("bench peak: capacity, costs, profiles")
struct PeakCapacityTests {
    let cli = CommandLineTests()

    /// Runs `bench peak` with `arguments` and `--json`, and returns the report it printed.
    func report(_ arguments: [String]) throws -> [String: Any] {
        let outcome = try cli.run(["bench", "peak", "--json"] + arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome.stdout)")
    }

    @Test("the limit search finds a limit imposed on the appends, within 10%, and says what bound it")
    func findsImposedLimit() async throws {
        try await onOwnThread {
            let reportDir = temporaryDirectory() + "-report"
            defer { removeDirectory(reportDir) }
            // A loose objective: other tests load the machine, and its stalls must not pass for the
            // limit. Above the imposed rate, lateness grows without bound: a trial of L seconds at
            // objective O fails from a rate of about (1 + O / L) times the limit, here 1.05.
            let report = try report([
                "--report", reportDir, "--find-limit", "--throttle", "10000", "--start-rate", "2500", "--trial-seconds", "2",
                "--append-p99", "100", "--max-late-percent", "5",
                "--skip-baseline", "--base-rate", "2000", "--burst-multiple", "2", "--warmup", "0.2", "--burst", "0.2", "--cooldown", "0.2",
                "--partitions", "2", "--record-bytes", "64",
            ])
            let limit = try #require(report["limit"] as? [String: Any])
            let rate = try #require(limit["recordsPerSecond"] as? Double)
            #expect(rate >= 9_000 && rate <= 11_000, "found \(rate)/s against an imposed 10,000/s")
            #expect(limit["limitedBy"] as? String == "latency")
            #expect(abs((limit["megabytesPerSecond"] as? Double ?? 0) - rate * 64 / 1e6) < 0.001)
            let trials = try #require(limit["trials"] as? [[String: Any]])
            // Every rate above the limit fell behind; the limit itself kept up.
            #expect(trials.filter { ($0["rate"] as? Double ?? 0) > rate * 1.06 }.allSatisfy { $0["passed"] as? Bool == false })
            #expect(trials.contains { $0["rate"] as? Double == rate && $0["passed"] as? Bool == true })
            let atLimit = try #require(limit["atLimit"] as? [String: Any])
            #expect(((atLimit["append"] as? [String: Any])?["p99"] as? Double ?? 1000) <= 100)
            // The burst chart's write capacity is the search's.
            let cost = try #require(report["cost"] as? [String: Any])
            #expect(cost["writeCapacity"] as? Double == rate && cost["writeCapacityMeasuredBySearch"] as? Bool == true)
            let html = try String(contentsOfFile: reportDir + "/index.html", encoding: .utf8)
            #expect(html.contains("Write capacity (limit search)") && html.contains("10,000/s"))
        }
    }

    @Test("what a burst costs agrees with the topic's files on disk and with the consumers' own count")
    func burstCost() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            let reportDir = dir + "-report"
            defer {
                removeDirectory(dir)
                removeDirectory(reportDir)
            }
            // Two consumers at 200 µs a record: 10,000/s; a burst of 16,000/s for a second builds a backlog.
            let report = try report([
                "--dir", dir, "--keep-store", "--report", reportDir, "--skip-baseline", "--base-rate", "2000", "--burst-multiple", "8",
                "--warmup", "0.3", "--burst", "1", "--cooldown", "1.5", "--cost-us", "200", "--partitions", "2", "--record-bytes", "100",
                "--disk-budget", "1MB", "--drain-objective", "0.5",
            ])
            let run = try #require((report["runs"] as? [[String: Any]])?.first)
            let produced = try #require(run["produced"] as? Int)
            let cost = try #require(report["cost"] as? [String: Any])
            // Disk bytes per record: the topic's log files, counted here.
            var logBytes = 0
            for partition in 0..<2 {
                let directory = dir + "/topics/peak/\(partition)"
                for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".log") {
                    logBytes += try #require(try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.size] as? Int)
                }
            }
            let perRecord = try #require(cost["diskBytesPerRecord"] as? Double)
            #expect(
                abs(perRecord * Double(produced) - Double(logBytes)) < 1, "\(perRecord) × \(produced) against \(logBytes) bytes on disk")
            // The consumers' capacity: at most what the simulated cost allows, and most of it.
            let capacity = try #require(cost["consumerCapacity"] as? Double)
            #expect(capacity > 6_000 && capacity <= 10_200, "consumer capacity \(capacity)/s")
            #expect(cost["consumerCapacityMeasured"] as? Bool == true)
            // Everything produced was consumed and committed: the group's own count.
            let described = try cli.run(["groups", "describe", "peak-0", "--dir", dir])
            #expect(described.status == 0)
            // Columns: topic, partition, committed, end offset, lag, member.
            let lags = described.stdout.split(separator: "\n").dropFirst().compactMap { line -> Int? in
                let columns = line.split(separator: " ")
                return columns.count == 6 ? Int(columns[4]) : nil
            }
            #expect(lags.count == 2 && lags.allSatisfy { $0 == 0 }, "\(described.stdout)")
            // The peak backlog and what the budget and objective allow follow from the measured figures.
            let peak = try #require(cost["peakBacklogRecords"] as? Int)
            #expect(peak > 2_000 && peak < produced)
            #expect(abs((cost["peakBacklogBytes"] as? Double ?? 0) - Double(peak) * perRecord) < 1)
            let drainRate = try #require(cost["netDrainRate"] as? Double)
            let allowed = try #require(cost["maxBacklogRecords"] as? Double)
            #expect(abs(allowed - min(1e6 / perRecord, 0.5 * drainRate)) < 0.01)
            let drain = try #require(cost["drainSeconds"] as? Double)
            #expect(cost["measuredBurstFits"] as? Bool == (Double(peak) * perRecord <= 1e6 && drain <= 0.5))
            let bursts = try #require(cost["largestBursts"] as? [[String: Any]])
            for burst in bursts {
                let seconds = try #require(burst["seconds"] as? Double)
                let rate = try #require(burst["recordsPerSecond"] as? Double)
                #expect(abs(rate - (capacity + allowed / seconds)) < 0.01)
            }
            let svg = try String(contentsOfFile: reportDir + "/capacity.svg", encoding: .utf8)
            #expect(svg.contains("Which bursts fit") && svg.contains("<circle"))
        }
    }

    @Test("a rate profile drives exactly its rates: the records' scheduled times, counted per row")
    func profile() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            let reportDir = dir + "-report"
            let profile = dir + "-profile.csv"
            defer {
                removeDirectory(dir)
                removeDirectory(reportDir)
                removeDirectory(profile)
            }
            // The last row lasts as long as the interval before it: 1.5 s in all.
            try "seconds,records_per_second\n0,2000\n0.5,6000\n# a comment\n1.0,1000\n".write(
                toFile: profile, atomically: true, encoding: .utf8)
            let report = try report([
                "--dir", dir, "--keep-store", "--report", reportDir, "--skip-baseline", "--profile", profile, "--partitions", "1",
                "--record-bytes", "32", "--label", "profiled",
            ])
            #expect((report["runs"] as? [[String: Any]])?.first?["produced"] as? Int == 4500)
            #expect(report["label"] as? String == "profiled")
            // The scheduled time leads each value (8 bytes, then the key index): count them per row.
            let store = try Reservoir.openReadOnly(at: dir)
            defer { try? store.close() }
            let times = try allRecords(store.log(topic: "peak", partition: 0)).map { record -> UInt64 in
                let value = record.value ?? []
                return value.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            }
            #expect(times.count == 4500)
            let start = try #require(times.min())
            var counts = [0, 0, 0]
            for time in times { counts[min(2, Int(Double(time - start) / 0.5e9))] += 1 }
            #expect(abs(counts[0] - 1000) <= 2 && abs(counts[1] - 3000) <= 4 && abs(counts[2] - 500) <= 2, "\(counts)")
            // The report's target line is the profile.
            let samples = try #require((report["runs"] as? [[String: Any]])?.first?["samples"] as? [[String: Any]])
            #expect(Set(samples.compactMap { $0["target"] as? Double }).isSubset(of: [2000, 6000, 1000, 0]))
        }
    }

    @Test("runs compared side by side: labels as columns, the settings that differ marked")
    func compare() async throws {
        try await onOwnThread {
            let base = temporaryDirectory()
            defer {
                removeDirectory(base + "-a")
                removeDirectory(base + "-b")
            }
            let quick = [
                "--skip-baseline", "--base-rate", "1000", "--burst-multiple", "2", "--warmup", "0.1", "--burst", "0.2", "--cooldown", "0.1",
            ]
            _ = try report(["--report", base + "-a", "--label", "buffered", "--acks", "buffered"] + quick)
            _ = try report(["--report", base + "-b", "--label", "durable lz4", "--acks", "durable", "--compression", "lz4"] + quick)
            let outcome = try cli.run(["bench", "peak", "--compare", base + "-a/report.json", base + "-b"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let lines = outcome.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "| | buffered | durable lz4 |")
            #expect(lines.contains("| **acks** | buffered | durable |"))
            #expect(lines.contains("| **compression** | none | lz4 |"))
            #expect(lines.contains("| partitions | 4 | 4 |"))
            #expect(lines.contains { $0.hasPrefix("| every record exactly once | yes | yes |") })
        }
    }

    @Test("malformed profiles and impossible options: one clear line, nothing run")
    func errors() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let profiles: [(String, String)] = [
                ("0,1000\n1,abc\n", "line 2: not a number"),
                ("0,1000\n2,500\n1,700\n", "line 3: times must increase"),
                ("0,-5\n", "line 1: the rate must be between 0 and 100 M records/s"),
                ("0,1000,3\n", "line 1: expected two columns"),
                ("# nothing\n\n", "no rows"),
                ("0,0\n5,0\n", "every rate is 0"),
                ("0,10\n4000,10\n", "at most an hour"),
            ]
            for (index, (text, message)) in profiles.enumerated() {
                let path = dir + "/profile-\(index).csv"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                let outcome = try cli.run(["bench", "peak", "--profile", path, "--dir", dir + "/store", "--report", dir + "/report"])
                #expect(outcome.status == 1, "\(text)")
                #expect(outcome.stderr.split(separator: "\n").count == 1 && outcome.stderr.contains(path), "\(outcome.stderr)")
                #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
                #expect(!FileManager.default.fileExists(atPath: dir + "/store") && !FileManager.default.fileExists(atPath: dir + "/report"))
            }
            let missing = try cli.run(["bench", "peak", "--profile", dir + "/absent.csv"])
            #expect(missing.status == 1 && missing.stderr.contains("cannot read the profile \(dir)/absent.csv"))
            let usage: [([String], String)] = [
                (["--profile", "p.csv", "--base-rate", "5"], "--profile replaces --base-rate"),
                (["--disk-budget", "lots"], "--disk-budget must be a size"),
                (["--disk-budget", "0"], "--disk-budget must be a size"),
                (["--drain-objective", "0"], "--drain-objective must be between"),
                (["--append-p99", "0"], "--append-p99 must be between"),
                (["--max-late-percent", "200"], "--max-late-percent must be between"),
                (["--trial-seconds", "0"], "--trial-seconds must be between"),
                (["--throttle", "0"], "--throttle must be a positive rate"),
                (["--compare", "a.json"], "--compare needs at least two"),
                (["--compare", "a.json", "b.json", "--find-limit"], "--compare reads earlier reports"),
            ]
            for (arguments, message) in usage {
                let outcome = try cli.run(["bench", "peak"] + arguments)
                #expect(outcome.status == 2 && outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            }
            let notReports = try cli.run(["bench", "peak", "--compare", dir + "/profile-0.csv", dir + "/profile-1.csv"])
            #expect(notReports.status == 1 && notReports.stderr.contains("is not a `bench peak` report.json"))
        }
    }
}
