import Foundation

/// The report of a peak run: a self-contained HTML page with the chart (inline SVG), the same
/// chart as `chart.svg`, and every figure as `report.json`.
struct PeakReport: Codable {
    var scenario: PeakScenario
    var runs: [PeakRun.Result]

    func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let svg = chart()
        try Data(svg.utf8).write(to: URL(fileURLWithPath: directory + "/chart.svg"))
        try Data(html(svg: svg).utf8).write(to: URL(fileURLWithPath: directory + "/index.html"))
        try Data(json().utf8).write(to: URL(fileURLWithPath: directory + "/report.json"))
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    // MARK: Summary table

    var table: String {
        var lines = ["| | " + runs.map(title).joined(separator: " | ") + " |", "|---|" + runs.map { _ in "---|" }.joined()]
        func row(_ name: String, _ value: (PeakRun.Result) -> String) {
            lines.append("| \(name) | " + runs.map(value).joined(separator: " | ") + " |")
        }
        row("records produced") { "\($0.produced)" }
        row("records consumed (per group)") { $0.consumed.map(String.init).joined(separator: ", ") }
        row("every record exactly once") { $0.checksumsMatch ? "yes" : "NO" }
        row("peak ingress") { format($0.samples.map(\.ingress).max() ?? 0) + "/s" }
        row("peak egress") { format($0.samples.compactMap { $0.egress.max() }.max() ?? 0) + "/s" }
        row("max backlog") { format(Double($0.maxBacklog)) + " records" }
        row("producer behind schedule, at most") { format(Double($0.maxBehind)) + " records" }
        row("producer append latency p50 / p99 / max") {
            String(format: "%.2f / %.2f / %.1f ms", $0.append.p50, $0.append.p99, $0.append.max)
        }
        row("end-to-end latency p50") { String(format: "%.1f ms", $0.endToEnd.p50) }
        row("p90 / p99 / p99.9") { String(format: "%.0f / %.0f / %.0f ms", $0.endToEnd.p90, $0.endToEnd.p99, $0.endToEnd.p999) }
        row("max") { String(format: "%.0f ms", $0.endToEnd.max) }
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
            <text x="\(width / 2)" y="48" text-anchor="middle" font-size="12" fill="#444">\(escape(scenario.summary))</text>
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
        out += "<text x=\"\(x0)\" y=\"\(y0 + 14)\" font-size=\"14\" font-weight=\"bold\">\(escape(caption(run)))</text>\n"
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

    private func niceStep(_ raw: Double) -> Double {
        let magnitude = pow(10, floor(log10(Swift.max(raw, 1e-9))))
        let fraction = raw / magnitude
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
    }

    private func niceCeiling(_ value: Double) -> Double {
        let step = niceStep(value / 5)
        return ceil(value / step) * step
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }

    // MARK: HTML

    func html(svg: String) -> String {
        var rows = ""
        for line in table.split(separator: "\n").enumerated() where line.offset != 1 {
            let cells = line.element.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let tag = line.offset == 0 ? "th" : "td"
            rows += "<tr>" + cells.map { "<\(tag)>\(escape($0))</\(tag)>" }.joined() + "</tr>\n"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Reservoir peak benchmark</title>
            <style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-top:16px}
            th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
            p{max-width:960px}</style></head><body>
            \(svg)
            <p>The producer appends on the schedule shown by the dashed line. With Reservoir the producer keeps the burst rate while
            the consumers drain at their capacity and the backlog waits on disk; with a direct hand-off (1000 records of room per
            group) the producer is held to the consumers' speed and falls behind its schedule, which is its backlog.</p>
            <table>
            \(rows)</table>
            </body></html>

            """
    }
}
