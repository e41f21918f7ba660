#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Reservoir

/// The machine and build a benchmark ran on, so that a run can be compared and repeated.
struct MachineInfo: Codable, Sendable {
    var cores: Int
    var memoryBytes: UInt64
    var cpu: String
    var kernel: String
    /// The file system of the store's directory (ext4, xfs, tmpfs...).
    var fileSystem: String
    var reservoirVersion: String

    static func current(storeDirectory: String) -> MachineInfo {
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown"
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: ProcessInfo.processInfo.physicalMemory, cpu: cpu,
            kernel: kernel, fileSystem: fileSystemName(of: storeDirectory), reservoirVersion: Reservoir.version)
    }

    /// The file system holding `path` (or its nearest existing parent): the type of the longest
    /// mount point above it in `/proc/self/mountinfo`.
    private static func fileSystemName(of path: String) -> String {
        var directory = (path as NSString).standardizingPath
        while !FileManager.default.fileExists(atPath: directory), directory.count > 1 {
            directory = (directory as NSString).deletingLastPathComponent
        }
        directory = (directory as NSString).resolvingSymlinksInPath
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return "unknown" }
        var best: (point: String, type: String)?
        for line in mounts.split(separator: "\n") {
            // ID parent major:minor root mount-point options... - type source super-options
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            let point = String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || directory == point || directory.hasPrefix(point + "/")
            if inside && point.count >= (best?.point.count ?? -1) { best = (point, String(fields[dash + 1])) }
        }
        return best?.type ?? "unknown"
    }

    var summary: String {
        "\(cores) cores (\(cpu)), \(decimalBytes(Double(memoryBytes))) memory, Linux \(kernel), store on \(fileSystem), Reservoir \(reservoirVersion)"
    }
}

/// The command line as typed, quoted for a shell, to repeat a run.
func commandLineText() -> String {
    CommandLine.arguments.map { argument in
        let plain = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
        return plain && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}
