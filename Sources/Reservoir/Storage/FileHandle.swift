#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An open file descriptor, closed when the last reference goes away.
///
/// Every system call retries `EINTR` and turns other failures into ``ReservoirError`` with the
/// path and the reason. The descriptor is immutable, so a handle can be shared across threads;
/// positional I/O (`pread`/`pwrite`) keeps concurrent users independent.
final class FileHandle: Sendable {
    let descriptor: Int32
    let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// Opens `path`; `create` makes it when missing.
    static func open(_ path: String, writable: Bool = true, create: Bool = false, exclusive: Bool = false) throws(ReservoirError)
        -> FileHandle
    {
        var flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
        if create { flags |= O_CREAT }
        if exclusive { flags |= O_EXCL }
        let fd = try SystemCall.retrying("open", path) { Glibc.open(path, flags, 0o644) }
        return FileHandle(descriptor: fd, path: path)
    }

    /// The file's current size in bytes.
    func size() throws(ReservoirError) -> Int {
        var info = stat()
        _ = try SystemCall.retrying("fstat", path) { fstat(descriptor, &info) }
        return Int(info.st_size)
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(ReservoirError) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        var position = offset
        if let fault = SystemCall.fault("write", path) {
            // An injected failure: half the bytes reach the file first when it is a short write.
            if fault.shortWrite && remaining > 1 { _ = pwrite(descriptor, pointer, remaining / 2, off_t(position)) }
            throw .io("write", path: path, errno: fault.errno)
        }
        while remaining > 0 {
            let written = try SystemCall.retrying("write", path) { pwrite(descriptor, pointer, remaining, off_t(position)) }
            pointer += written
            remaining -= written
            position += written
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws(ReservoirError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ReservoirError) in try self.write(buffer, at: offset) }
        }.get()
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer at end of file).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(ReservoirError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let count = try SystemCall.retrying("read", path) {
                pread(descriptor, base + total, buffer.count - total, off_t(offset + total))
            }
            if count == 0 { break }
            total += count
        }
        return total
    }

    /// Reads the whole file.
    func readAll() throws(ReservoirError) -> [UInt8] {
        let count = try size()
        var bytes = [UInt8](repeating: 0, count: count)
        let read = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(ReservoirError) -> Int in try self.read(into: buffer, at: 0) }
        }.get()
        return Array(bytes.prefix(read))
    }

    func truncate(to size: Int) throws(ReservoirError) {
        _ = try SystemCall.retrying("truncate", path) { ftruncate(descriptor, off_t(size)) }
    }

    /// Reserves the blocks of `offset..<offset + count`, extending the file past its end (never
    /// shrinking it); the bytes it adds read as zeros. A full disk is an error, not a signal.
    func allocate(from offset: Int, count: Int) throws(ReservoirError) {
        try SystemCall.check("fallocate", path)
        while true {
            // posix_fallocate returns the error number instead of setting errno.
            let error = posix_fallocate(descriptor, off_t(offset), off_t(count))
            if error == 0 { return }
            if error != EINTR { throw .io("fallocate", path: path, errno: error) }
        }
    }

    /// Flushes the file's data (and the metadata needed to read it) to stable storage.
    func syncData() throws(ReservoirError) {
        _ = try SystemCall.retrying("fdatasync", path) { fdatasync(descriptor) }
    }

    /// Flushes the file's data and all of its metadata.
    func sync() throws(ReservoirError) {
        _ = try SystemCall.retrying("fsync", path) { fsync(descriptor) }
    }

    /// Takes an exclusive advisory lock without waiting; `false` when another holder has it.
    func tryLockExclusive() throws(ReservoirError) -> Bool {
        while true {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            let error = errno
            if error == EINTR { continue }
            if error == EWOULDBLOCK { return false }
            throw .io("lock", path: path, errno: error)
        }
    }
}
