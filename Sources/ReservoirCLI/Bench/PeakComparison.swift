import Foundation

/// `bench peak --compare A.json B.json...`: runs side by side, one column each, named by their
/// `--label` (or file name). The settings that differ between them come first.
struct PeakComparison {
    let reports: [(name: String, report: PeakReport)]

    /// Reads each `report.json` (or a report folder holding one).
    init(paths: [String]) throws(CLIFailure) {
        var reports: [(String, PeakReport)] = []
        for path in paths {
            var file = path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                file = path + "/report.json"
            }
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw CLIFailure("cannot read \(file): \(error.localizedDescription)")
            }
            let report: PeakReport
            do {
                report = try JSONDecoder().decode(PeakReport.self, from: data)
            } catch {
                throw CLIFailure("\(file) is not a `bench peak` report.json: \(error)")
            }
            let name = report.label ?? (file.hasSuffix("/report.json") ? (file as NSString).deletingLastPathComponent : file)
            reports.append((name, report))
        }
        self.reports = reports
    }

    var table: String {
        var lines = ["| | " + reports.map { $0.name.replacingOccurrences(of: "|", with: "/") }.joined(separator: " | ") + " |"]
        lines.append("|---|" + reports.map { _ in "---|" }.joined())
        func row(_ name: String, _ value: (PeakReport) -> String) {
            lines.append("| \(name) | " + reports.map { value($0.report) }.joined(separator: " | ") + " |")
        }
        // What was run: the settings first, those that differ marked.
        let keys = Set(reports.flatMap { ($0.report.settings ?? [:]).keys }).sorted()
        for key in keys {
            let values = reports.map { $0.report.settings?[key] ?? "–" }
            row(Set(values).count > 1 ? "**\(key)**" : key) { $0.settings?[key] ?? "–" }
        }
        row("scenario") { $0.scenario.summary }
        row("machine") { $0.machine.map { "\($0.cores) cores, \(decimalBytes(Double($0.memoryBytes))), \($0.fileSystem)" } ?? "–" }
        func buffered(_ report: PeakReport) -> PeakRun.Result? { report.runs.first { $0.kind == .buffered } }
        row("every record exactly once") { report in buffered(report).map { $0.checksumsMatch ? "yes" : "NO" } ?? "–" }
        row("records produced") { report in buffered(report).map { grouped($0.produced) } ?? "–" }
        row("write capacity") { report in
            report.limit.map {
                "\(grouped($0.recordsPerSecond))/s (\(grouped($0.megabytesPerSecond, decimals: 1)) MB/s), by \($0.limitedBy)"
            }
                ?? "not searched"
        }
        row("append p50 / p99") { report in
            buffered(report).map { String(format: "%.2f / %.2f ms", $0.append.p50, $0.append.p99) } ?? "–"
        }
        row("disk bytes per record") { $0.cost.map { grouped($0.diskBytesPerRecord, decimals: 1) } ?? "–" }
        row("peak backlog") { $0.cost.map { "\(grouped($0.peakBacklogRecords)) (\(decimalBytes($0.peakBacklogBytes)))" } ?? "–" }
        row("drain time after the burst") { $0.cost.map { grouped($0.drainSeconds, decimals: 1) + " s" } ?? "–" }
        row("consumers' drain rate") { $0.cost.map { grouped($0.consumerCapacity) + "/s" } ?? "–" }
        row("end-to-end p50 / p99") { report in
            buffered(report).map { "\(grouped($0.endToEnd.p50)) / \(grouped($0.endToEnd.p99)) ms" } ?? "–"
        }
        row("wait before the append p99") { report in buffered(report).map { grouped($0.upstreamWait.p99, decimals: 1) + " ms" } ?? "–" }
        return lines.joined(separator: "\n")
    }
}
