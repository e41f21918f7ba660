import Foundation

/// A traffic shape of the user's own: rows of (seconds since the start, records/s), e.g.
/// exported from a metrics system, replayed on the benchmark's timeline. Each row's rate holds
/// until the next row's time; the last row holds for as long as the interval before it (one
/// second when it is the only row), so that evenly spaced samples each cover their interval.
///
/// The file is CSV: two numeric columns, separated by a comma (or a semicolon, a tab or spaces);
/// an optional header row, blank lines and lines starting with `#` are skipped. Times may also be
/// Unix timestamps in seconds: the first row is then the start.
struct RateProfile: Sendable, Codable, Equatable {
    struct Step: Sendable, Codable, Equatable {
        /// Seconds since the start of the schedule.
        var start: Double
        /// Records per second from `start` to the next step.
        var rate: Double
    }

    var steps: [Step]
    /// When the schedule ends (seconds since the start).
    var end: Double

    init(steps: [Step], end: Double) {
        self.steps = steps
        self.end = end
    }

    /// A profile from CSV text; `source` names the file in errors.
    init(csv text: String, source: String) throws(CLIFailure) {
        var steps: [Step] = []
        var sawHeader = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == "," || $0 == ";" || $0 == "\t" || $0 == " " }).map(String.init)
            let where_ = "\(source), line \(index + 1)"
            guard fields.count == 2 else {
                throw CLIFailure("\(where_): expected two columns (seconds since the start, records/s), found \(fields.count): \(line)")
            }
            guard let start = Double(fields[0]), let rate = Double(fields[1]) else {
                // A first row of names is a header.
                if steps.isEmpty && !sawHeader && Double(fields[0]) == nil && Double(fields[1]) == nil {
                    sawHeader = true
                    continue
                }
                throw CLIFailure("\(where_): not a number: \(line)")
            }
            guard start.isFinite, start >= 0 else { throw CLIFailure("\(where_): the time must be 0 or more seconds, not \(fields[0])") }
            guard rate.isFinite, rate >= 0, rate <= 100_000_000 else {
                throw CLIFailure("\(where_): the rate must be between 0 and 100 M records/s, not \(fields[1])")
            }
            if let last = steps.last, start <= last.start {
                throw CLIFailure("\(where_): times must increase (\(fields[0]) after \(last.start))")
            }
            steps.append(Step(start: start, rate: rate))
        }
        guard let first = steps.first, let last = steps.last else {
            throw CLIFailure("\(source): no rows (expected lines of: seconds since the start, records/s)")
        }
        // Unix timestamps (a metrics export): the first row is the start.
        if first.start >= 1_000_000_000 {
            steps = steps.map { Step(start: $0.start - first.start, rate: $0.rate) }
        }
        let lastStart = steps[steps.count - 1].start
        let interval = steps.count > 1 ? last.start - steps[steps.count - 2].start : 1
        self.steps = steps
        end = lastStart + interval
        guard end <= 3600 else { throw CLIFailure("\(source): the profile lasts \(Int(end)) s; at most an hour is replayed") }
        guard steps.contains(where: { $0.rate > 0 }) else { throw CLIFailure("\(source): every rate is 0") }
    }

    /// Reads the profile in `path`.
    init(path: String) throws(CLIFailure) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CLIFailure("cannot read the profile \(path): \(error.localizedDescription)")
        }
        try self.init(csv: text, source: path)
    }

    /// The rate at `t` seconds since the start.
    func rate(at t: Double) -> Double {
        guard t >= 0, t < end else { return 0 }
        var low = 0
        var high = steps.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if steps[middle].start <= t { low = middle } else { high = middle - 1 }
        }
        return steps[low].start <= t ? steps[low].rate : 0
    }
}
