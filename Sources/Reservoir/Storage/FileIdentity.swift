#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's device and inode: what names it whatever path reaches it, and tells a file from
/// another put at its path later.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// The identity of the file at `path` now, nil when there is none.
    static func of(_ path: String) -> FileIdentity? {
        var info = stat()
        var result: Int32
        repeat { result = stat(path, &info) } while result != 0 && errno == EINTR
        return result == 0 ? FileIdentity(info) : nil
    }
}
