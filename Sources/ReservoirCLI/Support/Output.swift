import ArgumentParser
import Foundation
import Logging
import Reservoir

/// Writes to stdout without Foundation's buffering surprises; flushes on demand.
enum Output {
    nonisolated(unsafe) static var buffer: [UInt8] = []

    static func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count > 1 << 16 { flush() }
    }
    static func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count > 1 << 16 { flush() }
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
