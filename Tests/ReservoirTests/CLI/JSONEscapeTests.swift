import CReservoirText
import Testing

@Suite("JSON escaping of consume --json")
struct JSONEscapeTests {
    /// The escaped text as RFC 8259 spells it, written out independently of the C code.
    static func expected(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        return out
    }

    static func escaped(_ bytes: [UInt8], portable: Bool = false) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: 6 * bytes.count)
        let count = bytes.withUnsafeBufferPointer { text in
            out.withUnsafeMutableBufferPointer { room in
                portable
                    ? reservoir_json_escape_portable(text.baseAddress, text.count, room.baseAddress)
                    : reservoir_json_escape(text.baseAddress, text.count, room.baseAddress)
            }
        }
        return Array(out[..<count])
    }

    @Test("every byte value, alone and in runs of 16 with quotes and backslashes in either half")
    func everyByte() {
        for byte in UInt8.min...UInt8.max {
            let alone = [byte]
            #expect(Self.escaped(alone) == Self.expected(alone))
            for position in 0..<40 {
                var run = [UInt8](repeating: UInt8(ascii: "x"), count: 40)
                run[position] = byte
                run[(position &* 7) % 40] = UInt8(ascii: "\"")
                #expect(Self.escaped(run) == Self.expected(run), "byte \(byte) at \(position)")
            }
        }
    }

    @Test("random text of every length up to 300, dense with escapes or not: the same bytes as the portable path and RFC 8259")
    func randomText() {
        var random = SeededGenerator(seed: 11)
        let alphabets: [[UInt8]] = [
            Array("ab\"\\".utf8), Array("abcdefgh\"".utf8), Array("abc\"\\\n\t\r".utf8) + [0, 0x1F, 0x7F, 0xC3, 0xA9],
        ]
        for length in 0...300 {
            for alphabet in alphabets {
                let text = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
                let want = Self.expected(text)
                #expect(Self.escaped(text) == want, "length \(length)")
                #expect(Self.escaped(text, portable: true) == want, "length \(length)")
            }
        }
    }
}

@Suite("Decimal numbers and ASCII tests of consume --json")
struct JSONNumberTests {
    static func decimal(_ value: Int64) -> String {
        var out = [UInt8](repeating: 0, count: 20)
        let count = out.withUnsafeMutableBufferPointer { reservoir_decimal(value, $0.baseAddress) }
        return String(decoding: out[..<count], as: UTF8.self)
    }

    @Test("every power of ten and its neighbours, both signs, the extremes and random values: what String(value) writes")
    func decimals() {
        var values: [Int64] = [0, 1, -1, .max, .min, .max - 1, .min + 1]
        var power: Int64 = 1
        for _ in 0...18 {
            values += [power, power - 1, power + 1, -power, 1 - power, -power - 1]
            if power <= Int64.max / 10 { power *= 10 }
        }
        var random = SeededGenerator(seed: 5)
        values += (0..<2000).map { _ in Int64.random(in: .min ... .max, using: &random) >> Int64.random(in: 0...63, using: &random) }
        for value in values { #expect(Self.decimal(value) == String(value)) }
    }

    @Test("numbers written through a memo: steps of 0 to 9, carries through every digit, jumps, negative numbers, the extremes")
    func memoizedDecimals() {
        var memo = reservoir_decimal_memo()
        var values: [Int64] = [0, 0, 1, 9, 10, 99, 100, 99_999_999, 100_000_000, 999_999_999_999_991]
        var value: Int64 = 999_999_999_999_991
        for _ in 0..<20 {
            value += 1
            values.append(value)
        }
        values += [-5, -4, 7, .max - 9, .max, .min, .min + 1, 1_764_000_000_000]
        var random = SeededGenerator(seed: 9)
        value = 1_764_000_000_000
        for _ in 0..<5000 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0: value = Int64.random(in: .min ... .max, using: &random)
            case 1: value = 9_999 - Int64.random(in: 0...9, using: &random)
            case 2: value -= Int64.random(in: 1...100, using: &random)
            default: value &+= Int64.random(in: 0...9, using: &random)
            }
            values.append(value)
        }
        var out = [UInt8](repeating: 0, count: 20)
        for value in values {
            let count = out.withUnsafeMutableBufferPointer { reservoir_decimal_memoized(&memo, value, $0.baseAddress) }
            #expect(String(decoding: out[..<count], as: UTF8.self) == String(value))
        }
    }

    @Test("ASCII is told from text with a byte of 0x80 or above at every position")
    func ascii() {
        for length in 0...70 {
            let plain = [UInt8](repeating: 0x7F, count: length)
            #expect(plain.withUnsafeBufferPointer { reservoir_is_ascii($0.baseAddress, $0.count) } == 1)
            for position in 0..<length {
                var text = plain
                text[position] = 0x80 | UInt8(position % 128)
                #expect(
                    text.withUnsafeBufferPointer { reservoir_is_ascii($0.baseAddress, $0.count) } == 0, "length \(length) at \(position)")
            }
        }
    }
}
