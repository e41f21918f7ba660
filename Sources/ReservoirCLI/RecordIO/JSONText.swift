import CReservoirText

/// Minimal JSON text for the CLI's line output (no Foundation encoder per record).
enum JSONText {
    /// `text` as a JSON string, escaped as every line the command line writes is (by
    /// ``JSONLineWriter/string(_:at:)``).
    static func string(_ text: String) -> String {
        var out: [UInt8] = []
        writeString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a JSON string.
    static func writeString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeString(bytes: UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Appends valid UTF-8 `bytes` as a JSON string (escaped by ``JSONLineWriter/string(_:at:)``).
    static func writeString(bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: 6 * bytes.count + 2, alignment: 1) { scratch in
            guard let start = scratch.baseAddress else { return }
            let end = JSONLineWriter.string(bytes, at: start)
            out.append(contentsOf: UnsafeRawBufferPointer(start: start, count: start.distance(to: end)).bindMemory(to: UInt8.self))
        }
    }

    /// Whether `bytes` are valid UTF-8 (as `String(validating:)` judges), without a copy for ASCII
    /// (tested sixteen bytes at a time).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        if reservoir_is_ascii(base.assumingMemoryBound(to: UInt8.self), bytes.count) != 0 { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// Appends `value` in decimal.
    static func writeDecimal(_ value: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { scratch in
            guard let start = scratch.baseAddress else { return }
            let end = JSONLineWriter.decimal(value, at: start)
            out.append(contentsOf: UnsafeRawBufferPointer(start: start, count: start.distance(to: end)).bindMemory(to: UInt8.self))
        }
    }

    /// Bytes as a JSON string when they are valid UTF-8, else base64; the flag says which.
    static func bytes(_ bytes: [UInt8]?) -> (value: String, base64: Bool) {
        guard let bytes else { return ("null", false) }
        if let text = String(validating: bytes, as: UTF8.self) { return (string(text), false) }
        return (string(base64(bytes)), true)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = Int(bytes[index])
            let b1 = index + 1 < bytes.count ? Int(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? Int(bytes[index + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
