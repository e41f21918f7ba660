/// Reads big-endian fields from bytes, nil when they run out (no traps on malformed input).
struct BigEndianReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - position >= size else { return nil }
        var value: T = 0
        for index in position..<(position + size) { value = (value << 8) | T(truncatingIfNeeded: bytes[index]) }
        position += size
        return value
    }

    mutating func int8() -> Int8? { integer(Int8.self) }
    mutating func int16() -> Int16? { integer(Int16.self) }
    mutating func int32() -> Int32? { integer(Int32.self) }
    mutating func int64() -> Int64? { integer(Int64.self) }

    mutating func string() -> String? {
        guard let length = int16(), length >= 0, bytes.count - position >= Int(length) else { return nil }
        defer { position += Int(length) }
        return String(decoding: bytes[position..<(position + Int(length))], as: UTF8.self)
    }
}
