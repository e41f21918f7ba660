import Foundation

/// The bursts a setup can absorb: burst rate against burst duration (log scale), the region
/// within the write capacity, the disk budget and the drain objective shaded, and the measured
/// burst marked.
struct CapacityChart {
    let cost: BurstCost
    /// The measured burst: its length and mean ingress.
    let measured: (seconds: Double, rate: Double)?

    func svg() -> String {
        let width = 960.0
        let height = 420.0
        let x0 = 90.0
        let plotTop = 80.0
        let plotWidth = width - 140
        let plotHeight = height - 140
        let minSeconds = 0.1
        let maxSeconds = 3600.0
        let capacity = cost.consumerCapacity
        let write = cost.writeCapacityMeasuredBySearch ? cost.writeCapacity : Double.infinity
        func largest(_ seconds: Double) -> Double {
            BurstCost.largestRate(seconds: seconds, capacity: capacity, writeCapacity: write, maxBacklog: cost.maxBacklogRecords)
        }
        var top = Swift.max(capacity * 2, measured?.rate ?? 0, cost.writeCapacity)
        if cost.maxBacklogRecords != nil { top = Swift.max(top, Swift.min(write, largest(10))) }
        let maxRate = niceCeiling(top * 1.1)
        func x(_ seconds: Double) -> Double { x0 + log10(seconds / minSeconds) / log10(maxSeconds / minSeconds) * plotWidth }
        func y(_ rate: Double) -> Double { plotTop + plotHeight - Swift.min(Swift.max(rate, 0), maxRate) / maxRate * plotHeight }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="26" text-anchor="middle" font-size="18" font-weight="bold">Which bursts fit: burst rate against burst duration</text>
            <text x="\(width / 2)" y="46" text-anchor="middle" font-size="12" fill="#444">\(escapeXML(subtitle.0))</text>
            <text x="\(width / 2)" y="62" text-anchor="middle" font-size="12" fill="#444">\(escapeXML(subtitle.1))</text>

            """
        // The feasible region: every rate up to the largest allowed at each duration.
        let durations = stride(from: 0.0, through: 1.0, by: 0.005).map { minSeconds * pow(maxSeconds / minSeconds, $0) }
        var area = "M \(x(minSeconds)) \(y(0))"
        for seconds in durations { area += " L \(String(format: "%.1f", x(seconds))) \(String(format: "%.1f", y(largest(seconds))))" }
        area += " L \(x(maxSeconds)) \(y(0)) Z"
        out += "<path d=\"\(area)\" fill=\"#2ca02c\" fill-opacity=\"0.18\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n"
        // Grid, axes, ticks.
        for tick in ticks(maxRate) {
            out += "<line x1=\"\(x0)\" y1=\"\(y(tick))\" x2=\"\(x0 + plotWidth)\" y2=\"\(y(tick))\" stroke=\"#eeeeee\"/>"
            out += "<text x=\"\(x0 - 6)\" y=\"\(y(tick) + 4)\" font-size=\"11\" text-anchor=\"end\">\(format(tick))</text>\n"
        }
        for (seconds, label) in [(0.1, "0.1 s"), (1.0, "1 s"), (10, "10 s"), (60, "1 min"), (300, "5 min"), (900, "15 min"), (3600, "1 h")]
        {
            out +=
                "<line x1=\"\(x(seconds))\" y1=\"\(plotTop)\" x2=\"\(x(seconds))\" y2=\"\(plotTop + plotHeight + 5)\" stroke=\"#eeeeee\"/>"
            out +=
                "<text x=\"\(x(seconds))\" y=\"\(plotTop + plotHeight + 18)\" font-size=\"11\" text-anchor=\"middle\">\(label)</text>\n"
        }
        out += "<rect x=\"\(x0)\" y=\"\(plotTop)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"black\"/>\n"
        out +=
            "<text x=\"\(x0 + plotWidth / 2)\" y=\"\(plotTop + plotHeight + 36)\" font-size=\"12\" text-anchor=\"middle\">burst duration (log scale)</text>\n"
        out +=
            "<text transform=\"translate(\(x0 - 62),\(plotTop + plotHeight / 2)) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">burst rate (records/s)</text>\n"
        // Reference lines.
        func level(_ rate: Double, _ color: String, _ label: String) {
            guard rate.isFinite, rate <= maxRate else { return }
            out +=
                "<line x1=\"\(x0)\" y1=\"\(y(rate))\" x2=\"\(x0 + plotWidth)\" y2=\"\(y(rate))\" stroke=\"\(color)\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>"
            out +=
                "<text x=\"\(x0 + plotWidth - 4)\" y=\"\(y(rate) - 5)\" font-size=\"11\" text-anchor=\"end\" fill=\"\(color)\">\(escapeXML(label))</text>\n"
        }
        level(capacity, "#555555", "consumers' capacity \(grouped(capacity))/s: anything below is never a backlog")
        if cost.writeCapacityMeasuredBySearch {
            level(cost.writeCapacity, "#1f77b4", "write capacity \(grouped(cost.writeCapacity))/s (limit search)")
        } else {
            level(cost.writeCapacity, "#1f77b4", "highest ingress measured \(grouped(cost.writeCapacity))/s (write capacity not searched)")
        }
        if let measured, measured.seconds >= minSeconds {
            let fits = cost.measuredBurstFits != false
            let color = fits ? "#2ca02c" : "#d62728"
            out +=
                "<circle cx=\"\(x(Swift.min(measured.seconds, maxSeconds)))\" cy=\"\(y(measured.rate))\" r=\"6\" fill=\"\(color)\" stroke=\"black\"/>"
            out +=
                "<text x=\"\(x(Swift.min(measured.seconds, maxSeconds)) + 10)\" y=\"\(y(measured.rate) + 20)\" font-size=\"12\">measured: \(grouped(measured.rate))/s for \(grouped(measured.seconds, decimals: 1)) s\(cost.measuredBurstFits == nil ? "" : fits ? " (fits)" : " (does not fit)")</text>\n"
        }
        return out + "</svg>\n"
    }

    private var subtitle: (String, String) {
        var limits: [String] = []
        if let budget = cost.diskBudgetBytes { limits.append("disk budget \(decimalBytes(budget))") }
        if let drain = cost.drainObjectiveSeconds { limits.append("drained within \(grouped(drain, decimals: 0)) s") }
        let bound =
            limits.isEmpty
            ? "no disk budget or drain objective given: only the write capacity bounds a burst" : limits.joined(separator: ", ")
        return (
            "shaded: the bursts that fit (\(bound))",
            "measured: \(grouped(cost.diskBytesPerRecord, decimals: 1)) disk bytes per record; the backlog drains at \(grouped(cost.netDrainRate))/s after a burst"
        )
    }

    private func ticks(_ maximum: Double) -> [Double] {
        let step = niceStep(maximum / 5)
        return stride(from: 0, through: maximum + step / 1000, by: step).map { $0 }
    }
}

func niceStep(_ raw: Double) -> Double {
    let magnitude = pow(10, floor(log10(Swift.max(raw, 1e-9))))
    let fraction = raw / magnitude
    return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
}

func niceCeiling(_ value: Double) -> Double {
    let step = niceStep(value / 5)
    return ceil(value / step) * step
}

func escapeXML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
        of: ">", with: "&gt;")
}
