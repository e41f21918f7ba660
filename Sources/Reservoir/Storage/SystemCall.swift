#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Wrappers for system calls: retry on `EINTR`, throw ``ReservoirError`` on failure.
///
/// Every file operation of the storage layer passes here (or through ``check(_:_:)``), which makes
/// this the seam where tests inject failures: ENOSPC, EIO, a write cut short, a failing fsync or
/// rename, at chosen calls on chosen paths (``inject(_:)``). Without injected faults the seam costs
/// one relaxed atomic load per call.
enum SystemCall {
    /// A failure to inject: after `skip` calls of `operation` on a path containing
    /// `pathContaining` pass, the next `count` fail with `errno`; with `shortWrite`, a write first
    /// writes half its bytes.
    struct Fault: Sendable {
        var operation: String
        var pathContaining: String
        var errno: Int32
        var count: Int = 1
        var skip = 0
        var shortWrite = false
    }

    private static let faults = Mutex<[Fault]>([])
    private static let armed = Atomic<Bool>(false)

    /// Arms `fault` (tests).
    static func inject(_ fault: Fault) {
        faults.withLock { $0.append(fault) }
        armed.store(true, ordering: .releasing)
    }

    /// Disarms every fault on paths containing `pathContaining` (tests).
    static func clearFaults(pathContaining: String) {
        faults.withLock { faults in
            faults.removeAll { $0.pathContaining == pathContaining }
            armed.store(!faults.isEmpty, ordering: .releasing)
        }
    }

    /// The injected fault for this call, consumed; nil when none applies.
    static func fault(_ operation: String, _ path: String) -> Fault? {
        guard armed.load(ordering: .acquiring) else { return nil }
        return faults.withLock { faults -> Fault? in
            guard let index = faults.firstIndex(where: { $0.operation == operation && path.contains($0.pathContaining) }) else {
                return nil
            }
            if faults[index].skip > 0 {
                faults[index].skip -= 1
                return nil
            }
            let fault = faults[index]
            faults[index].count -= 1
            if faults[index].count <= 0 { faults.remove(at: index) }
            return fault
        }
    }

    /// Throws the injected failure for an operation that does not go through ``retrying(_:_:_:)``.
    static func check(_ operation: String, _ path: String) throws(ReservoirError) {
        if let fault = fault(operation, path) { throw .io(operation, path: path, errno: fault.errno) }
    }

    static func retrying<T: BinaryInteger>(_ operation: String, _ path: String, _ call: () -> T) throws(ReservoirError) -> T {
        if operation != "write", let fault = fault(operation, path) { throw .io(operation, path: path, errno: fault.errno) }
        while true {
            let result = call()
            if result >= 0 { return result }
            let error = errno
            if error == EINTR { continue }
            throw .io(operation, path: path, errno: error)
        }
    }
}
