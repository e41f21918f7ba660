import Foundation

/// `value` rounded to `decimals` places, with thousands separators: 1,234,567 or 12,345.6.
func grouped(_ value: Double, decimals: Int = 0) -> String {
    guard value.isFinite else { return value.isNaN ? "–" : (value > 0 ? "∞" : "-∞") }
    let text = String(format: "%.\(decimals)f", abs(value))
    let parts = text.split(separator: ".", maxSplits: 1)
    var digits = Array(parts[0])
    var index = digits.count - 3
    while index > 0 {
        digits.insert(",", at: index)
        index -= 3
    }
    let sign = value < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "-" : ""
    return sign + String(digits) + (parts.count > 1 ? "." + parts[1] : "")
}

/// `value` with thousands separators.
func grouped(_ value: Int) -> String { grouped(Double(value)) }

/// Bytes with a unit: 512 B, 1.5 KB, 12.3 MB, 4.56 GB (powers of 1000, as disks are sold).
func decimalBytes(_ bytes: Double) -> String {
    if bytes >= 1e9 { return String(format: "%.2f GB", bytes / 1e9) }
    if bytes >= 1e6 { return String(format: "%.1f MB", bytes / 1e6) }
    if bytes >= 1e3 { return String(format: "%.1f KB", bytes / 1e3) }
    return String(format: "%.0f B", bytes)
}

/// A size such as `500MB`, `2GiB`, `10G` or `1048576` (bytes): K, M, G, T are powers of 1000,
/// KiB, MiB, GiB, TiB powers of 1024.
func parseSize(_ text: String) -> Double? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let number = trimmed.prefix { $0.isNumber || $0 == "." }
    guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
    let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
    let units: [String: Double] = [
        "": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
        "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
    ]
    return units[unit].map { value * $0 }
}
