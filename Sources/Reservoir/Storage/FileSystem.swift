#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Directory and path operations the storage layer needs, with errors that name the path.
enum FileSystem {
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents.
    static func createDirectory(_ path: String) throws(ReservoirError) {
        try createDirectory(path, durably: false)
    }

    /// Creates `path` and its missing parents, and makes each new entry durable (fsync of the
    /// directory that holds it), so that files created inside survive a power loss with it.
    static func createDirectoryDurably(_ path: String) throws(ReservoirError) {
        try createDirectory(path, durably: true)
    }

    private static func createDirectory(_ path: String, durably: Bool) throws(ReservoirError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if !parent.isEmpty && parent != path { try createDirectory(parent, durably: durably) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .io("create directory", path: path, errno: errno)
        }
        if durably { try syncDirectory(parent.isEmpty ? "." : parent) }
    }

    /// The names in `path`, without `.` and `..`, sorted.
    static func list(_ path: String) throws(ReservoirError) -> [String] {
        guard let directory = opendir(path) else { throw .io("list directory", path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func rename(_ from: String, to: String) throws(ReservoirError) {
        try SystemCall.check("rename", from)
        if Glibc.rename(from, to) != 0 { throw .io("rename to \(to)", path: from, errno: errno) }
    }

    /// Makes `to` a second name of the file at `from` (a hard link; both in one file system).
    static func link(_ from: String, to: String) throws(ReservoirError) {
        if Glibc.link(from, to) != 0 { throw .io("link to \(to)", path: from, errno: errno) }
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) throws(ReservoirError) {
        try SystemCall.check("remove", path)
        if unlink(path) != 0 && errno != ENOENT { throw .io("remove", path: path, errno: errno) }
    }

    /// Removes a directory and everything below it.
    static func removeTree(_ path: String) throws(ReservoirError) {
        if isDirectory(path) {
            for name in try list(path) { try removeTree(path + "/" + name) }
            if rmdir(path) != 0 && errno != ENOENT { throw .io("remove directory", path: path, errno: errno) }
        } else {
            try remove(path)
        }
    }

    /// Makes the directory's entries (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws(ReservoirError) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw .io("open directory", path: path, errno: errno) }
        defer { close(fd) }
        try SystemCall.check("fsync directory", path)
        if fsync(fd) != 0 { throw .io("fsync directory", path: path, errno: errno) }
    }

    /// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
    /// A crash leaves either the old file or the new one, never a mix.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ReservoirError) {
        let temporary = path + ".tmp"
        try remove(temporary)
        do {
            let file = try FileHandle.open(temporary, create: true, exclusive: true)
            try file.write(bytes, at: 0)
            try file.sync()
        }
        try rename(temporary, to: path)
        try syncDirectory(parentDirectory(of: path))
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
}
