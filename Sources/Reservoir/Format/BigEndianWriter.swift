/// Writes big-endian fields and int16-length strings.
struct BigEndianWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        let utf8 = Array(string.utf8.prefix(Int(Int16.max)))
        append(Int16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}
