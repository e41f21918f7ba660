import Testing
@testable import Reservoir

/// The bounds-checked reader under every decoder: varints in their one-, two- and long-byte
/// forms, read back exactly as written, and truncation reported instead of read past.
@Suite("Byte cursor")
struct ByteCursorTests {
    /// `values` written back to back with `Varint.write`, then read back in order.
    private func roundTrip32(_ values: [Int32]) throws -> [Int32] {
        var bytes = [UInt8](repeating: 0, count: values.count * 5)
        var end = 0
        bytes.withUnsafeMutableBytes { buffer in
            for value in values { end += Varint.write(value, to: buffer.baseAddress! + end) }
        }
        return try bytes.withUnsafeBytes { buffer in
            var cursor = ByteCursor(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
            var read: [Int32] = []
            while !cursor.isAtEnd { read.append(try cursor.readVarint()) }
            return read
        }
    }

    private func roundTrip64(_ values: [Int64]) throws -> [Int64] {
        var bytes = [UInt8](repeating: 0, count: values.count * 10)
        var end = 0
        bytes.withUnsafeMutableBytes { buffer in
            for value in values { end += Varint.write(value, to: buffer.baseAddress! + end) }
        }
        return try bytes.withUnsafeBytes { buffer in
            var cursor = ByteCursor(UnsafeRawBufferPointer(rebasing: buffer[..<end]))
            var read: [Int64] = []
            while !cursor.isAtEnd { read.append(try cursor.readVarlong()) }
            return read
        }
    }

    @Test("varints of every size read back exactly, at the end of the bytes too")
    func varintsRoundTrip() throws {
        // Every value whose zig-zag form takes one or two bytes, and the edges of the longer forms.
        var values = Array(Int32(-8200)...Int32(8200))
        values += [Int32.min, Int32.max, -1_048_577, 1_048_576, 1 << 20, -(1 << 27), 1 << 27, 123_456_789]
        #expect(try roundTrip32(values) == values)
        var longs = values.map(Int64.init)
        longs += [Int64.min, Int64.max, 1_764_000_000_000, -1_764_000_000_000, 1 << 35, -(1 << 49)]
        #expect(try roundTrip64(longs) == longs)
        // A two-byte varint as the very last bytes (the fast path needs both in range).
        #expect(try roundTrip32([300]) == [300])
        #expect(try roundTrip64([-300]) == [-300])
    }

    @Test("a varint cut short is a truncation error, never a read past the end")
    func truncatedVarints() throws {
        for bytes: [UInt8] in [[0x80], [0xFF, 0xFF], [0x80, 0x80, 0x80, 0x80]] {
            bytes.withUnsafeBytes { buffer in
                var cursor = ByteCursor(buffer)
                #expect(throws: FormatError.self) { try cursor.readVarint() }
                var long = ByteCursor(buffer)
                #expect(throws: FormatError.self) { try long.readVarlong() }
            }
        }
        [UInt8]([0x02, 0x05]).withUnsafeBytes { buffer in
            var cursor = ByteCursor(buffer)
            #expect(throws: FormatError.truncated(position: 1, needed: 5, available: 1)) {
                _ = try cursor.readVarint()
                _ = try cursor.readBytes(5)
            }
        }
    }
}
