import Foundation

/// A table printed with aligned columns: text to the left, numbers to the right, two spaces
/// between columns, the header first.
struct TextTable {
    enum Alignment { case left, right }

    let headers: [String]
    let alignments: [Alignment]
    private(set) var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    /// The table's lines, each ending in a newline (trailing spaces trimmed).
    var text: String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        var output = ""
        for row in [headers] + rows {
            var line = ""
            for (index, cell) in row.enumerated() where index < widths.count {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                if index > 0 { line += "  " }
                line += alignments[index] == .left ? cell + padding : padding + cell
            }
            while line.hasSuffix(" ") { line.removeLast() }
            output += line + "\n"
        }
        return output
    }

    func print() { Swift.print(text, terminator: "") }
}

/// A byte count with a binary unit: `512 B`, `58.3 KiB`, `1.2 GiB`.
func formatBytes(_ bytes: some BinaryInteger) -> String {
    let value = Double(bytes)
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var scaled = value
    var unit = 0
    while abs(scaled) >= 1024 && unit < units.count - 1 {
        scaled /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: scaled >= 100 ? "%.0f" : "%.1f", scaled) + " " + units[unit]
}
