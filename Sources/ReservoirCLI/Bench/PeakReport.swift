import Foundation

/// The report of a peak run: a self-contained HTML page with the charts (inline SVG), the same
/// charts as `chart.svg` and `capacity.svg`, and every figure as `report.json`. It says how to
/// repeat the run (the command, the machine, the store settings), what a burst cost, what the
/// limit search found, and why end-to-end latency differs with and without the buffer.
struct PeakReport: Codable {
    var scenario: PeakScenario
    var runs: [PeakRun.Result]
    /// A name for the run in comparisons (`--label`).
    var label: String?
    /// The command that made it.
    var command: String?
    var machine: MachineInfo?
    /// The benchmark topic's settings and the acknowledgement mode.
    var settings: [String: String]?
    /// `--find-limit`'s result.
    var limit: WriteCapacitySearch.Result?
    /// What the burst cost, from the buffered run.
    var cost: BurstCost?
    /// Why end-to-end latency came out as it did, in sentences.
    var latencyExplanation: [String]?

    func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let svg = runs.isEmpty ? "" : chart()
        if !runs.isEmpty { try Data(svg.utf8).write(to: URL(fileURLWithPath: directory + "/chart.svg")) }
        let capacity = capacityChart()
        if let capacity { try Data(capacity.utf8).write(to: URL(fileURLWithPath: directory + "/capacity.svg")) }
        try Data(html(svg: svg, capacity: capacity).utf8).write(to: URL(fileURLWithPath: directory + "/index.html"))
        try Data(try json().utf8).write(to: URL(fileURLWithPath: directory + "/report.json"))
    }

    /// The capacity chart, when the buffered run's costs are known.
    func capacityChart() -> String? {
        guard let cost else { return nil }
        let measured = cost.burstStart.flatMap { start in cost.burstEnd.map { (seconds: $0 - start, rate: cost.burstIngress) } }
        return CapacityChart(cost: cost, measured: measured).svg()
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    // MARK: Summary table

    var table: String {
        var lines = ["| | " + runs.map(title).joined(separator: " | ") + " |", "|---|" + runs.map { _ in "---|" }.joined()]
        func row(_ name: String, _ value: (PeakRun.Result) -> String) {
            lines.append("| \(name) | " + runs.map(value).joined(separator: " | ") + " |")
        }
        row("records produced") { grouped($0.produced) }
        row("records consumed (per group)") { $0.consumed.map(grouped).joined(separator: ", ") }
        row("every record exactly once") { $0.checksumsMatch ? "yes" : "NO" }
        row("peak ingress (100 ms samples)") { grouped($0.samples.map(\.ingress).max() ?? 0) + "/s" }
        row("peak egress (100 ms samples)") { grouped($0.samples.compactMap { $0.egress.max() }.max() ?? 0) + "/s" }
        row("consumers' drain rate while busy") { run in
            let rate = run.busyDrainRate(scenario)
            return rate > 0 ? grouped(rate) + "/s" : "never busy"
        }
        row("max backlog") { grouped($0.maxBacklog) + " records" }
        row("producer behind schedule, at most") { grouped($0.maxBehind) + " records" }
        row("producer append latency p50 / p99 / max") {
            String(format: "%.2f / %.2f / %.1f ms", $0.append.p50, $0.append.p99, $0.append.max)
        }
        row("wait before the append completed p50 / p99") {
            "\(grouped($0.upstreamWait.p50, decimals: 1)) / \(grouped($0.upstreamWait.p99, decimals: 1)) ms"
        }
        row("end-to-end latency p50") { grouped($0.endToEnd.p50, decimals: 1) + " ms" }
        row("p90 / p99 / p99.9") {
            "\(grouped($0.endToEnd.p90)) / \(grouped($0.endToEnd.p99)) / \(grouped($0.endToEnd.p999)) ms"
        }
        row("max") { grouped($0.endToEnd.max) + " ms" }
        row("producer done (schedule: \(String(format: "%.0f", scenario.productionSeconds)) s)") {
            String(format: "at %.1f s", $0.productionEndedAt)
        }
        row("backlog cleared") { String(format: "at %.1f s", $0.backlogClearedAt) }
        row("run time") { String(format: "%.1f s", $0.seconds) }
        return lines.joined(separator: "\n")
    }

    private func title(_ run: PeakRun.Result) -> String {
        run.kind == .buffered ? "Reservoir (buffered)" : "baseline (no buffer)"
    }

    private func caption(_ run: PeakRun.Result) -> String {
        run.kind == .buffered
            ? "Reservoir: the producer keeps the schedule; the backlog waits on disk"
            : "No buffer (1000-record hand-off): the producer is held to the consumers' pace; the backlog waits upstream"
    }

    // MARK: Chart

    func chart() -> String {
        let width = 960.0
        let panelHeight = 300.0
        let top = 84.0
        let height = top + Double(runs.count) * (panelHeight + 48) + 10
        let maxT = Swift.max(1, runs.flatMap(\.samples).map(\.t).max() ?? 1)
        let maxRate = niceCeiling(
            Swift.max(scenario.burstRate, runs.flatMap(\.samples).map { Swift.max($0.ingress, $0.egress.max() ?? 0) }.max() ?? 1) * 1.05)
        let maxBacklog = niceCeiling(Double(Swift.max(1, runs.map(\.maxBacklog).max() ?? 1)) * 1.05)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="26" text-anchor="middle" font-size="18" font-weight="bold">Absorbing a traffic peak: Reservoir against a direct hand-off</text>
            <text x="\(width / 2)" y="48" text-anchor="middle" font-size="12" fill="#444">\(escapeXML(scenario.summary))</text>
            <text x="\(width / 2)" y="64" text-anchor="middle" font-size="11" fill="#666">sampled every 100 ms; rates drawn as 0.6 s moving averages</text>

            """
        for (index, run) in runs.enumerated() {
            let y0 = top + Double(index) * (panelHeight + 48)
            svg += panel(
                run, x0: 80, y0: y0, width: width - 170, height: panelHeight - 40, maxT: maxT, maxRate: maxRate, maxBacklog: maxBacklog)
        }
        return svg + "</svg>\n"
    }

    private func panel(
        _ run: PeakRun.Result, x0: Double, y0: Double, width: Double, height: Double, maxT: Double, maxRate: Double, maxBacklog: Double
    ) -> String {
        let plotTop = y0 + 42
        func x(_ t: Double) -> Double { x0 + t / maxT * width }
        func yRate(_ r: Double) -> Double { plotTop + height - Swift.min(r, maxRate) / maxRate * height }
        func yBacklog(_ b: Double) -> Double { plotTop + height - Swift.min(b, maxBacklog) / maxBacklog * height }
        var out = "<g>\n"
        out += "<text x=\"\(x0)\" y=\"\(y0 + 14)\" font-size=\"14\" font-weight=\"bold\">\(escapeXML(caption(run)))</text>\n"
        // Legend.
        let legend: [(String, String, String)] = [
            ("#bbbbbb", "6,4", "target rate"), ("#1f77b4", "", "ingress (appended/s)"),
            ("#2ca02c", "", "egress (consumed/s)"),
            ("#ff7f0e", "", "backlog (records, right axis)"),
        ]
        var lx = x0 + 40
        for (color, dash, label) in legend {
            out +=
                "<line x1=\"\(lx)\" y1=\"\(y0 + 26)\" x2=\"\(lx + 22)\" y2=\"\(y0 + 26)\" stroke=\"\(color)\" stroke-width=\"3\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>"
            out += "<text x=\"\(lx + 27)\" y=\"\(y0 + 30)\" font-size=\"12\">\(label)</text>\n"
            lx += 36 + Double(label.count) * 6.3
        }
        // Grid and axes.
        for tick in ticks(maxRate) {
            out += "<line x1=\"\(x0)\" y1=\"\(yRate(tick))\" x2=\"\(x0 + width)\" y2=\"\(yRate(tick))\" stroke=\"#eeeeee\"/>"
            out += "<text x=\"\(x0 - 6)\" y=\"\(yRate(tick) + 4)\" font-size=\"11\" text-anchor=\"end\">\(format(tick))</text>\n"
        }
        for tick in ticks(maxBacklog) {
            out += "<text x=\"\(x0 + width + 6)\" y=\"\(yBacklog(tick) + 4)\" font-size=\"11\" fill=\"#c85a00\">\(format(tick))</text>\n"
        }
        for tick in ticks(maxT) {
            out += "<line x1=\"\(x(tick))\" y1=\"\(plotTop + height)\" x2=\"\(x(tick))\" y2=\"\(plotTop + height + 5)\" stroke=\"black\"/>"
            out += "<text x=\"\(x(tick))\" y=\"\(plotTop + height + 18)\" font-size=\"11\" text-anchor=\"middle\">\(Int(tick))</text>\n"
        }
        out += "<rect x=\"\(x0)\" y=\"\(plotTop)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"black\"/>\n"
        out += "<text x=\"\(x0 + width / 2)\" y=\"\(plotTop + height + 34)\" font-size=\"12\" text-anchor=\"middle\">time (s)</text>\n"
        out +=
            "<text transform=\"translate(\(x0 - 58),\(plotTop + height / 2)) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">records/s</text>\n"
        out +=
            "<text transform=\"translate(\(x0 + width + 62),\(plotTop + height / 2)) rotate(90)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#c85a00\">backlog (records)</text>\n"
        // Series.
        let samples = run.samples
        if let last = samples.last {
            var area = "M \(x(samples[0].t)) \(yBacklog(0))"
            for sample in samples { area += " L \(x(sample.t)) \(yBacklog(Double(sample.backlog)))" }
            area += " L \(x(last.t)) \(yBacklog(0)) Z"
            out += "<path d=\"\(area)\" fill=\"#ff7f0e\" fill-opacity=\"0.25\" stroke=\"#ff7f0e\" stroke-width=\"1.5\"/>\n"
        }
        func line(_ values: [(Double, Double)], _ color: String, dash: String = "", width: Double = 2) -> String {
            guard !values.isEmpty else { return "" }
            let points = values.map { "\(String(format: "%.1f", x($0.0))),\(String(format: "%.1f", yRate($0.1)))" }.joined(separator: " ")
            return
                "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>\n"
        }
        let target = stride(from: 0.0, through: scenario.productionSeconds + 0.01, by: 0.05).map { ($0, scenario.rate(at: $0)) }
        out += line(target, "#bbbbbb", dash: "6,4")
        out += line(smoothed(samples.map { ($0.t, $0.ingress) }), "#1f77b4")
        for group in 0..<(samples.first?.egress.count ?? 0) {
            out += line(smoothed(samples.map { ($0.t, $0.egress[group]) }), "#2ca02c")
        }
        return out + "</g>\n"
    }

    /// A centred moving average over 6 samples (0.6 s): 100 ms samples alias with the consumers'
    /// batch rhythm and zigzag (an even window cancels the two-sample pattern); report.json
    /// keeps the raw samples.
    private func smoothed(_ points: [(Double, Double)]) -> [(Double, Double)] {
        points.indices.map { index in
            let window = points[Swift.max(0, index - 3)...Swift.min(points.count - 1, index + 2)]
            return (points[index].0, window.reduce(0) { $0 + $1.1 } / Double(window.count))
        }
    }

    private func ticks(_ maximum: Double) -> [Double] {
        let step = niceStep(maximum / 5)
        return stride(from: 0, through: maximum + step / 1000, by: step).map { $0 }
    }

    // MARK: HTML

    /// A markdown table as HTML rows.
    static func htmlTable(_ markdown: String) -> String {
        var rows = ""
        for line in markdown.split(separator: "\n").enumerated() where line.offset != 1 {
            let cells = line.element.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let tag = line.offset == 0 ? "th" : "td"
            rows += "<tr>" + cells.map { "<\(tag)>\(escapeXML($0))</\(tag)>" }.joined() + "</tr>\n"
        }
        return "<table>\n\(rows)</table>\n"
    }

    func html(svg: String, capacity: String?) -> String {
        var page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Reservoir peak benchmark\(label.map { ": " + escapeXML($0) } ?? "")</title>
            <style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
            th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
            p,dl{max-width:960px}code{background:#f4f4f4;padding:2px 4px}dt{font-weight:bold;margin-top:6px}</style></head><body>
            <h1>Reservoir peak benchmark\(label.map { ": " + escapeXML($0) } ?? "")</h1>
            <dl>

            """
        if let command { page += "<dt>Command</dt><dd><code>\(escapeXML(command))</code></dd>\n" }
        if let machine { page += "<dt>Machine</dt><dd>\(escapeXML(machine.summary))</dd>\n" }
        page += "<dt>Scenario</dt><dd>\(escapeXML(scenario.summary))</dd>\n"
        if let settings {
            page +=
                "<dt>Store settings</dt><dd>\(escapeXML(settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))</dd>\n"
        }
        page += "</dl>\n"
        if !runs.isEmpty {
            page += svg
            page += """
                <p>The producer appends on the schedule shown by the dashed line. With Reservoir the producer keeps the burst rate while
                the consumers drain at their capacity and the backlog waits on disk; with a direct hand-off (1000 records of room per
                group) the producer is held to the consumers' speed and falls behind its schedule, which is its backlog.</p>

                """
            page += "<h2>End-to-end latency</h2>\n"
            for sentence in latencyExplanation ?? [] { page += "<p>\(escapeXML(sentence))</p>\n" }
            page += Self.htmlTable(table)
        }
        if let cost {
            page += "<h2>What the burst cost</h2>\n" + Self.htmlTable(costTable(cost))
            page += "<p>\(escapeXML(costSummary(cost)))</p>\n"
            page += Self.htmlTable(burstTable(cost))
            if let capacity { page += capacity }
        }
        if let limit {
            page += "<h2>Write capacity (limit search)</h2>\n<p>\(escapeXML(limit.explanation))</p>\n" + Self.htmlTable(trialTable(limit))
        }
        return page + "</body></html>\n"
    }

    // MARK: Capacity

    func costTable(_ cost: BurstCost) -> String {
        var lines = ["| what a burst costs | measured |", "|---|---|"]
        lines.append("| disk bytes per record (after compression and batch overhead) | \(grouped(cost.diskBytesPerRecord, decimals: 1)) |")
        lines.append(
            cost.consumerCapacityMeasured
                ? "| consumers' capacity (busy, slowest group) | \(grouped(cost.consumerCapacity))/s |"
                : "| consumers' capacity | \(grouped(cost.consumerCapacity))/s from the simulated cost (never busy: no backlog built up) |")
        if let start = cost.burstStart, let end = cost.burstEnd {
            lines.append(
                "| burst (schedule above capacity) | \(grouped(start, decimals: 1)) s to \(grouped(end, decimals: 1)) s, \(grouped(cost.burstIngress))/s appended |"
            )
        }
        lines.append(
            "| backlog growth per second of burst | \(grouped(cost.backlogGrowthPerSecond)) records (\(decimalBytes(cost.backlogGrowthPerSecond * cost.diskBytesPerRecord))) |"
        )
        lines.append("| peak backlog | \(grouped(cost.peakBacklogRecords)) records (\(decimalBytes(cost.peakBacklogBytes))) |")
        lines.append(
            "| drain time after the burst | \(grouped(cost.drainSeconds, decimals: 1)) s, at \(grouped(cost.netDrainRate))/s net |")
        lines.append(
            "| write capacity | \(grouped(cost.writeCapacity))/s\(cost.writeCapacityMeasuredBySearch ? " (limit search)" : " at least (highest ingress seen; --find-limit measures it)") |"
        )
        return lines.joined(separator: "\n")
    }

    func costSummary(_ cost: BurstCost) -> String {
        var parts: [String] = []
        if let budget = cost.diskBudgetBytes { parts.append("a disk budget of \(decimalBytes(budget))") }
        if let objective = cost.drainObjectiveSeconds { parts.append("draining within \(grouped(objective)) s") }
        guard let records = cost.maxBacklogRecords else {
            return "Give --disk-budget and --drain-objective to see the largest burst that fits both."
        }
        var binding = ""
        if let budget = cost.diskBudgetBytes, let objective = cost.drainObjectiveSeconds {
            let byBudget = budget / Swift.max(cost.diskBytesPerRecord, 1e-9)
            binding = byBudget <= objective * cost.netDrainRate ? " (the disk budget binds)" : " (the drain objective binds)"
        }
        var text =
            "With \(parts.joined(separator: " and ")), a burst may leave at most \(grouped(records)) records (\(decimalBytes(records * cost.diskBytesPerRecord))) in the backlog\(binding): "
            + "(burst rate − the consumers' \(grouped(cost.consumerCapacity))/s) × duration may not exceed that."
        if let fits = cost.measuredBurstFits {
            text += fits ? " The measured burst fit." : " The measured burst did not fit."
        }
        return text
    }

    func burstTable(_ cost: BurstCost) -> String {
        var lines = ["| burst lasting | largest rate that fits | backlog left | on disk |", "|---|---|---|---|"]
        for burst in cost.largestBursts {
            let duration = burst.seconds >= 60 ? "\(grouped(burst.seconds / 60)) min" : "\(grouped(burst.seconds)) s"
            var rate = burst.recordsPerSecond.map { grouped($0) + "/s" } ?? "unbounded (no limit given or measured)"
            if let value = burst.recordsPerSecond, !cost.writeCapacityMeasuredBySearch, value > cost.writeCapacity {
                rate += " (writes were not measured this fast: --find-limit)"
            }
            lines.append(
                "| \(duration) | \(rate) | \(burst.backlogRecords.map { grouped($0) } ?? "–") | \(burst.backlogBytes.map(decimalBytes) ?? "–") |"
            )
        }
        return lines.joined(separator: "\n")
    }

    func trialTable(_ limit: WriteCapacitySearch.Result) -> String {
        var lines = [
            "| rate asked | achieved | append p50 / p99 | late | producer thread busy / waiting for a core / blocked | disk written | result |",
            "|---|---|---|---|---|---|---|",
        ]
        for trial in limit.trials {
            lines.append(
                "| \(grouped(trial.rate))/s | \(grouped(trial.achieved))/s | \(String(format: "%.2f / %.2f ms", trial.append.p50, trial.append.p99)) | "
                    + "\(String(format: "%.2f%%", trial.lateShare * 100)) | "
                    + String(
                        format: "%.0f%% / %@ / %.0f%%", trial.usage.threadCPUShare * 100,
                        trial.usage.threadRunQueueShare.map { String(format: "%.0f%%", $0 * 100) } ?? "–",
                        trial.usage.threadBlockedShare * 100)
                    + " | "
                    + "\(trial.usage.writtenBytesPerSecond.map { decimalBytes($0) + "/s" } ?? "–") | \(trial.passed ? "kept up" : "fell behind (\(trial.limitedBy ?? ""))") |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The text report: the run table, the latency explanation, the costs and the limit.
    var text: String {
        var out: [String] = []
        if let label { out.append("run: \(label)") }
        if let command { out.append("command: \(command)") }
        if let machine { out.append("machine: \(machine.summary)") }
        if let settings {
            out.append("store: " + settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        if !runs.isEmpty {
            out.append("")
            out.append(table)
            if let explanation = latencyExplanation, !explanation.isEmpty {
                out.append("")
                out.append(contentsOf: explanation)
            }
        }
        if let cost {
            out.append("")
            out.append(costTable(cost))
            out.append("")
            out.append(costSummary(cost))
            out.append("")
            out.append(burstTable(cost))
        }
        if let limit {
            out.append("")
            out.append(trialTable(limit))
            out.append("")
            out.append(
                "write capacity: \(grouped(limit.recordsPerSecond)) records/s, \(grouped(limit.megabytesPerSecond, decimals: 1)) MB/s; stopped by: \(limit.limitedBy)"
            )
            out.append(limit.explanation)
        }
        return out.joined(separator: "\n")
    }
}
