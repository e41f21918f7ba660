/// Checks every batch and index of a store without opening it for writing or repairing anything.
public enum StoreVerifier {
    /// One problem found.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The damaged file.
        public var path: String
        /// What is wrong and where in the file.
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// What a verification found.
    public struct Report: Sendable {
        /// Segments checked.
        public var segments = 0
        /// Batches that passed their checks.
        public var batches = 0
        /// Records in those batches.
        public var records = 0
        /// Everything found damaged.
        public var problems: [Problem] = []
        /// Whether nothing is damaged.
        public var isSound: Bool { problems.isEmpty }
    }

    /// Verifies the store at `directory`, or only `topic` when given.
    public static func verify(directory: String, topic: String? = nil) throws(ReservoirError) -> Report {
        let topicsDirectory = directory + "/topics"
        guard FileSystem.isDirectory(topicsDirectory) else {
            throw ReservoirError(.invalidArgument, "\(directory) is not a Reservoir store (no topics directory)")
        }
        var report = Report()
        let names = if let topic { [topic] } else { try FileSystem.list(topicsDirectory) }
        for name in names {
            let topicDirectory = topicsDirectory + "/" + name
            guard FileSystem.isDirectory(topicDirectory) else {
                throw ReservoirError(.topicNotFound, "topic \(name) does not exist in \(directory)")
            }
            for partition in try FileSystem.list(topicDirectory) where FileSystem.isDirectory(topicDirectory + "/" + partition) {
                try verifyPartition(topicDirectory + "/" + partition, into: &report)
            }
        }
        return report
    }

    private static func verifyPartition(_ directory: String, into report: inout Report) throws(ReservoirError) {
        let decoder = RecordDecoder()
        var previousNext: Int64?
        for name in try FileSystem.list(directory) where name.hasSuffix(SegmentFiles.logSuffix) {
            guard let (base, _) = SegmentFiles.parse(name) else { continue }
            let files = SegmentFiles(directory: directory, baseOffset: base)
            report.segments += 1
            var starts: [Int: Int64] = [:]
            var next = max(base, previousNext ?? base)
            for entry in try SegmentFileInspector.batches(inLogFile: files.log) {
                guard let batch = entry.batch, let header = entry.header, entry.error == nil else {
                    report.problems.append(Problem(path: files.log, message: "byte \(entry.position): \(entry.error ?? "invalid batch")"))
                    break
                }
                if header.baseOffset < next {
                    report.problems.append(Problem(path: files.log, message: "byte \(entry.position): offset \(header.baseOffset) goes back (expected ≥ \(next))"))
                }
                do {
                    report.records += try decoder.validate(batch)
                } catch {
                    report.problems.append(Problem(path: files.log, message: "byte \(entry.position): \(error)"))
                }
                report.batches += 1
                starts[entry.position] = header.lastOffset
                next = header.lastOffset + 1
            }
            previousNext = next
            if FileSystem.exists(files.index) {
                let (entries, partial) = try SegmentFileInspector.offsetIndexEntries(path: files.index)
                if partial != 0 { report.problems.append(Problem(path: files.index, message: "\(partial) stray bytes after the last entry")) }
                var last: Int64 = -1
                for (index, entry) in entries.enumerated() {
                    if entry.offset == base && entry.position == 0 && index > 0 { break }  // preallocated zeros
                    if starts[entry.position] != entry.offset || entry.offset <= last {
                        report.problems.append(Problem(path: files.index, message: "entry \(index) (offset \(entry.offset), position \(entry.position)) does not match a batch"))
                        break
                    }
                    last = entry.offset
                }
            } else {
                report.problems.append(Problem(path: files.index, message: "missing (it is rebuilt at the next open)"))
            }
            if FileSystem.exists(files.timeIndex) {
                let (entries, partial) = try SegmentFileInspector.timeIndexEntries(path: files.timeIndex)
                if partial != 0 { report.problems.append(Problem(path: files.timeIndex, message: "\(partial) stray bytes after the last entry")) }
                var last: (Int64, Int64) = (Int64.min, -1)
                for (index, entry) in entries.enumerated() {
                    if entry.timestamp == 0 && entry.offset == base && index > 0 { break }  // preallocated zeros
                    if entry.timestamp <= last.0 || entry.offset < last.1 || entry.offset >= next {
                        report.problems.append(Problem(path: files.timeIndex, message: "entry \(index) (timestamp \(entry.timestamp), offset \(entry.offset)) is out of order or past the log"))
                        break
                    }
                    last = (entry.timestamp, entry.offset)
                }
            } else {
                report.problems.append(Problem(path: files.timeIndex, message: "missing (it is rebuilt at the next open)"))
            }
        }
    }
}
