#if RESERVOIR_TSAN
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// In ThreadSanitizer builds (`-Xswiftc -DRESERVOIR_TSAN`, see Docs/OPERATIONS.md) this shadows
/// `Synchronization.Mutex` with a pthread mutex, which ThreadSanitizer intercepts. On this
/// toolchain it does not see `Synchronization.Mutex` lock and unlock, and so reports every
/// access the mutex protects as a race. Normal builds never compile this file's contents.
final class Mutex<Value>: @unchecked Sendable {
    // Invariant: `value` is read and written only between lock and unlock of `lock`; both are
    // allocated and initialised in init and released in deinit. The value lives in its own
    // allocation: a zero-sized stored value (Mutex<Void>) would share an address with `lock`,
    // which the sanitizer reports as a race between reading `lock` and the locked access.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let value: UnsafeMutablePointer<Value>

    init(_ value: sending Value) {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body(&value.pointee)
    }
}
#endif
