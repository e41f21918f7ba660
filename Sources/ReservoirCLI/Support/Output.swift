import ArgumentParser
import Foundation
import Logging
import Reservoir

/// Writes to stdout without Foundation's buffering surprises; flushes on demand.
enum Output {
    /// Output is written in pieces of about this size: one `write(2)` per piece.
    static let flushBytes = 1 << 18
    private static let capacity = flushBytes + (1 << 16)

    // Raw memory rather than an array: appending a record's few pieces to an array cost a
    // uniqueness check and a generic copy each. Touched only by the thread that prints (commands
    // print from one thread at a time), so neither the compiler's isolation checks nor the
    // runtime's exclusivity check (a call and a thread-local lookup on every access, a fifth of
    // `consume`'s time) has anything to guard.
    //
    // Allocated on first use rather than in the declaration: a global with a computed initial
    // value is reached through a `swift_once` call at every access, a few per record printed;
    // one with a constant (nil) is not.
    @exclusivity(unchecked) nonisolated(unsafe) private static var storage: UnsafeMutableRawPointer? = nil
    @inline(__always) private static var base: UnsafeMutableRawPointer {
        if let storage { return storage }
        let allocated = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        storage = allocated
        return allocated
    }
    /// Bytes waiting in the buffer.
    @exclusivity(unchecked) nonisolated(unsafe) private static var count = 0

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { write(raw: UnsafeRawBufferPointer($0)) }
    }
    static func write(bytes: [UInt8]) {
        bytes.withUnsafeBytes { write(raw: $0) }
    }
    /// Appends bytes read in place (a record's key or value in its batch).
    static func write(raw bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity {
            flush()
            // Larger than the buffer: straight out.
            if bytes.count > capacity { return writeOut(bytes) }
        }
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
        if count > flushBytes { flush() }
    }
    /// Appends `bytes` (nothing for nil) and a newline.
    @inline(__always)
    static func writeLine(_ bytes: UnsafeRawBufferPointer?) {
        let length = bytes?.count ?? 0
        guard count + length < capacity else {
            if let bytes { write(raw: bytes) }
            return write(byte: UInt8(ascii: "\n"))
        }
        if let source = bytes?.baseAddress { (base + count).copyMemory(from: source, byteCount: length) }
        base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: count + length, as: UInt8.self)
        count += length + 1
        if count > flushBytes { flush() }
    }
    /// Writes the buffer out once it holds a piece's worth (after appending to it directly).
    static func flushIfFull() {
        if count > flushBytes { flush() }
    }
    /// Appends one byte (no flush: a line's end is followed by more, or by `flush()`).
    static func write(byte: UInt8) {
        if count == capacity { flush() }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }
    /// Appends `value` in decimal, without a String.
    static func write(decimal value: Int64) {
        _ = withSpace(20) { start in start.distance(to: JSONLineWriter.decimal(value, at: start)) }
    }

    /// Lets `body` write at most `bytes` bytes straight into the buffer (flushing first when they
    /// would not fit); `body` returns how many it wrote. False, with nothing done, when `bytes`
    /// is more than the buffer holds.
    static func withSpace(_ bytes: Int, _ body: (UnsafeMutableRawPointer) -> Int) -> Bool {
        guard bytes <= capacity else { return false }
        if count + bytes > capacity { flush() }
        let written = body(base + count)
        precondition(written <= bytes, "wrote \(written) bytes into room for \(bytes)")
        count += written
        return true
    }

    /// Writes the buffer with `write(2)`. A reader that went away (EPIPE: `| head`) ends the
    /// command quietly, its stores closed cleanly; another failure ends it with one line.
    static func flush() {
        guard count > 0 else { return }
        writeOut(UnsafeRawBufferPointer(start: base, count: count))
        count = 0
    }

    private static func writeOut(_ bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress else { return }
        var written = 0
        var failure: Int32?
        while written < bytes.count {
            let result = Glibc.write(1, start + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += result
        }
        if let failure {
            count = 0
            if failure == EPIPE { OpenStores.closeAllAndExit(0) }
            FileHandle.standardError.write(Data("reservoir: writing the output failed: \(String(cString: strerror(failure)))\n".utf8))
            OpenStores.closeAllAndExit(1)
        }
    }
}
