import ArgumentParser
import Foundation
import Logging
import Reservoir

/// Writes to stdout without Foundation's buffering surprises; flushes on demand.
enum Output {
    // Touched only by the thread that prints (commands print from one thread at a time), so
    // neither the compiler's isolation checks nor the runtime's exclusivity check (a call and a
    // thread-local lookup on every access, a fifth of `consume`'s time) has anything to guard.
    @exclusivity(unchecked) nonisolated(unsafe) static var buffer: [UInt8] = {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(flushBytes + (1 << 16))
        return buffer
    }()

    /// Output is written in pieces of about this size: one `write(2)` per piece.
    static let flushBytes = 1 << 18

    static func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count > flushBytes { flush() }
    }
    static func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count > flushBytes { flush() }
    }
    /// Appends bytes read in place (a record's key or value in its batch).
    static func write(raw bytes: UnsafeRawBufferPointer) {
        // As typed bytes: the array copies those with one memcpy, where raw bytes go through
        // the generic sequence path (a tenth of `consume`'s time).
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
        if buffer.count > flushBytes { flush() }
    }
    /// Writes the buffer out once it holds a piece's worth (after appending to it directly).
    static func flushIfFull() {
        if buffer.count > flushBytes { flush() }
    }
    /// Appends one byte (no flush: a line's end is followed by more, or by `flush()`).
    static func write(byte: UInt8) {
        buffer.append(byte)
    }
    /// Appends `value` in decimal, without a String.
    static func write(decimal value: Int64) {
        JSONText.writeDecimal(value, to: &buffer)
    }

    /// Writes the buffer with `write(2)`. A reader that went away (EPIPE: `| head`) ends the
    /// command quietly, its stores closed cleanly; another failure ends it with one line.
    static func flush() {
        guard !buffer.isEmpty else { return }
        let failure: Int32? = buffer.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let result = Glibc.write(1, bytes.baseAddress! + written, bytes.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return nil
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            if failure == EPIPE { OpenStores.closeAllAndExit(0) }
            FileHandle.standardError.write(Data("reservoir: writing the output failed: \(String(cString: strerror(failure)))\n".utf8))
            OpenStores.closeAllAndExit(1)
        }
    }
}
