#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the process and the machine spent over an interval: CPU time of the calling thread and
/// of the process, bytes the process wrote to storage (`/proc/self/io`), and the time some task
/// waited on I/O (`/proc/pressure/io`, when the kernel has pressure accounting).
struct ResourceUsage {
    let wallNanoseconds: UInt64
    let threadCPUNanoseconds: UInt64
    /// Time the calling thread waited for a core while runnable (`/proc/thread-self/schedstat`).
    let threadRunQueueNanoseconds: UInt64?
    let processCPUNanoseconds: UInt64
    let writtenBytes: Int?
    let ioStallMicroseconds: Int?

    static func now() -> ResourceUsage {
        var thread = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &thread)
        var process = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &process)
        return ResourceUsage(
            wallNanoseconds: monotonicNow(), threadCPUNanoseconds: nanoseconds(thread),
            threadRunQueueNanoseconds: (try? String(contentsOfFile: "/proc/thread-self/schedstat", encoding: .utf8))
                .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { UInt64($0) },
            processCPUNanoseconds: nanoseconds(process),
            writtenBytes: field("/proc/self/io", line: "write_bytes:", key: nil),
            ioStallMicroseconds: field("/proc/pressure/io", line: "some", key: "total="))
    }

    private static func nanoseconds(_ time: timespec) -> UInt64 { UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec) }

    /// The number after `key` (or the line's second word) on the line starting with `line`.
    private static func field(_ path: String, line prefix: String, key: String?) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        let words = line.split(separator: " ")
        if let key { return words.first { $0.hasPrefix(key) }.flatMap { Int($0.dropFirst(key.count)) } }
        return words.count > 1 ? Int(words[1]) : nil
    }

    /// The usage between `earlier` and this one.
    func since(_ earlier: ResourceUsage) -> Interval {
        let wall = Double(wallNanoseconds &- earlier.wallNanoseconds) / 1e9
        return Interval(
            seconds: wall,
            threadCPUShare: Double(threadCPUNanoseconds &- earlier.threadCPUNanoseconds) / 1e9 / Swift.max(wall, 1e-9),
            threadRunQueueShare: zip2(
                threadRunQueueNanoseconds.map { Int(clamping: $0) }, earlier.threadRunQueueNanoseconds.map { Int(clamping: $0) }
            ).map {
                Double($0 - $1) / 1e9 / Swift.max(wall, 1e-9)
            },
            processCPUShare: Double(processCPUNanoseconds &- earlier.processCPUNanoseconds) / 1e9 / Swift.max(wall, 1e-9)
                / Double(ProcessInfo.processInfo.activeProcessorCount),
            writtenBytesPerSecond: zip2(writtenBytes, earlier.writtenBytes).map { Double($0 - $1) / Swift.max(wall, 1e-9) },
            ioStallShare: zip2(ioStallMicroseconds, earlier.ioStallMicroseconds).map { Double($0 - $1) / 1e6 / Swift.max(wall, 1e-9) })
    }

    private func zip2(_ a: Int?, _ b: Int?) -> (Int, Int)? {
        guard let a, let b else { return nil }
        return (a, b)
    }

    struct Interval: Codable, Sendable {
        var seconds: Double
        /// The producer thread's CPU time over the wall time (1 = always busy).
        var threadCPUShare: Double
        /// The share of the time the producer thread was ready to run but waited for a core.
        var threadRunQueueShare: Double?
        /// The share of the time it slept because it was ahead of its schedule.
        var threadIdleShare: Double = 0
        /// The share of the time `--throttle` held it.
        var threadThrottledShare: Double = 0
        /// The rest: blocked in the kernel (writes held by page-cache writeback, fsync, page faults).
        var threadBlockedShare: Double {
            Swift.max(0, 1 - threadCPUShare - (threadRunQueueShare ?? 0) - threadIdleShare - threadThrottledShare)
        }
        /// The process's CPU time over the wall time of every core (1 = every core busy).
        var processCPUShare: Double
        /// Bytes the process sent to storage per second.
        var writtenBytesPerSecond: Double?
        /// The share of the time some task on the machine waited on I/O.
        var ioStallShare: Double?
    }
}
