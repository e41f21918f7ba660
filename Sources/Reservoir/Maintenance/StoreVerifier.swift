/// Checks every batch and index of a store without opening it for writing or repairing anything.
public enum StoreVerifier {
    /// One problem found.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The damaged file.
        public var path: String
        /// What is wrong and where in the file.
        public var message: String
        /// Whether data that was durable is damaged or missing. False for a tail written after the
        /// last fsync of a store that did not close cleanly (live, or stopped by a crash), which
        /// was never acknowledged as durable and which the next open cuts.
        public var isDamage: Bool = true
        /// The file and the problem, as one line.
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
        /// Everything found damaged, and unsynced tails (``Problem/isDamage`` false).
        public var problems: [Problem] = []
        /// Whether nothing is damaged.
        public var isSound: Bool { !problems.contains { $0.isDamage } }
    }

    /// Verifies the store at `directory`, or only `topic` when given: every batch (bounds, CRC,
    /// records), offsets continuous from the checkpointed log start to the recovery point, and
    /// every index entry. Reads only; works on a store another process has open.
    ///
    /// - Parameters:
    ///   - directory: the store's directory.
    ///   - topic: only this topic, when given.
    ///   - progress: called with the report so far after each segment (for a progress line).
    public static func verify(directory: String, topic: String? = nil, progress: (Report) -> Void = { _ in }) throws(ReservoirError)
        -> Report
    {
        let layout = StoreLayout(directory)
        let topicsDirectory = layout.topicsDirectory
        guard FileSystem.isDirectory(topicsDirectory) else {
            throw ReservoirError(.invalidArgument, "\(directory) is not a Reservoir store (no topics directory)")
        }
        let clean = FileSystem.exists(layout.cleanShutdownMarker)
        let recoveryPoints = CheckpointFile(path: layout.recoveryPointCheckpoint).readOffsets()
        let logStarts = CheckpointFile(path: layout.logStartCheckpoint).readOffsets()
        var report = Report()
        let names = if let topic { [topic] } else { try FileSystem.list(topicsDirectory) }
        for name in names {
            let topicDirectory = layout.topicDirectory(name)
            guard FileSystem.isDirectory(topicDirectory) else {
                throw ReservoirError(.topicNotFound, "topic \(name) does not exist in \(directory)")
            }
            // The settings are read as the store reads them: exactly, or the topic does not open.
            let configPath = layout.topicSettings(name)
            if FileSystem.exists(configPath) {
                do throws(ReservoirError) { _ = try Reservoir.readConfig(configPath) } catch {
                    report.problems.append(Problem(path: configPath, message: error.message))
                }
            }
            for partition in try FileSystem.list(topicDirectory) where FileSystem.isDirectory(topicDirectory + "/" + partition) {
                guard let number = StoreLayout.partitionNumber(partition) else { continue }
                let key = TopicPartition(name, number)
                try verifyPartition(
                    topicDirectory + "/" + partition, recoveryPoint: recoveryPoints?[key],
                    logStart: logStarts?[key], clean: clean, into: &report, progress: progress)
            }
        }
        return report
    }

    private static func verifyPartition(
        _ directory: String, recoveryPoint: Int64?, logStart: Int64?, clean: Bool, into report: inout Report,
        progress: (Report) -> Void
    ) throws(ReservoirError) {
        let decoder = RecordDecoder()
        let bases = try SegmentFiles.logBaseOffsets(in: directory)
        var previousNext: Int64?
        var previousDamaged = false
        for (position, base) in bases.enumerated() {
            let isLast = position == bases.count - 1
            let files = SegmentFiles(directory: directory, baseOffset: base)
            progress(report)
            report.segments += 1
            // Offsets after invalid bytes up to the next segment are that damage, not another one.
            if let previousNext, base > previousNext, !previousDamaged {
                // Past the recovery point of a store that did not close cleanly, a gap is a roll
                // that reached the disk before the previous segment's last batches did.
                let unsynced = LogLoader.isUnsyncedGap(at: previousNext, cleanShutdown: clean, recoveryPoint: recoveryPoint)
                let note =
                    unsynced ? " (written after the last fsync, never acknowledged as durable: the next open cuts the log there)" : ""
                report.problems.append(
                    Problem(
                        path: files.log, message: "offsets \(previousNext)..<\(base) are missing: no segment holds them\(note)",
                        isDamage: !unsynced))
            } else if previousNext == nil, let logStart, base > logStart {
                report.problems.append(
                    Problem(
                        path: files.log,
                        message: "offsets \(logStart)..<\(base) are missing: the log starts at \(logStart) but its first segment at \(base)"
                    ))
            }
            var starts: [Int: Int64] = [:]
            var next = max(base, previousNext ?? base)
            previousDamaged = false
            for entry in try SegmentFileInspector.batches(inLogFile: files.log) {
                if let legacy = entry.legacy {
                    report.problems.append(
                        Problem(
                            path: files.log,
                            message:
                                "byte \(entry.position): a legacy message (magic \(legacy.magic)); a store holds record batches (magic 2) only"
                        ))
                    continue
                }
                guard let batch = entry.batch, let header = entry.header, entry.error == nil else {
                    // The recovery policy's line: past the recovery point of a store that did not
                    // close cleanly, invalid bytes are a tail that never became durable.
                    let unsynced = LogLoader.isUnsyncedTail(
                        at: next, cleanShutdown: clean, recoveryPoint: recoveryPoint, inLastSegment: isLast)
                    let note = unsynced ? " (written after the last fsync, never acknowledged as durable: the next open cuts it)" : ""
                    report.problems.append(
                        Problem(
                            path: files.log, message: "byte \(entry.position), offset \(next): \(entry.error ?? "invalid batch")\(note)",
                            isDamage: !unsynced))
                    previousDamaged = true
                    break
                }
                if header.baseOffset < next {
                    report.problems.append(
                        Problem(
                            path: files.log, message: "byte \(entry.position): offset \(header.baseOffset) goes back (expected ≥ \(next))"))
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
            if isLast, let recoveryPoint, recoveryPoint > next {
                report.problems.append(
                    Problem(
                        path: files.log,
                        message:
                            "offsets \(next)..<\(recoveryPoint) are missing: they were durable (the recovery point is \(recoveryPoint)) but the log ends at \(next)"
                    ))
            }
            try verifyIndexes(files, base: base, starts: starts, next: next, into: &report)
        }
    }

    private static func verifyIndexes(
        _ files: SegmentFiles, base: Int64, starts: [Int: Int64], next: Int64, into report: inout Report
    ) throws(ReservoirError) {
        if FileSystem.exists(files.index) {
            let (all, partial) = try SegmentFileInspector.offsetIndexEntries(path: files.index)
            if partial != 0 { report.problems.append(Problem(path: files.index, message: "\(partial) stray bytes after the last entry")) }
            // Zero entries at the end are space preallocated for a live or crashed writer (a real
            // entry never points at byte 0: the first batch needs none).
            let used = all.lastIndex { !($0.offset == base && $0.position == 0) }.map { all[...$0] } ?? []
            var last: Int64 = -1
            for (index, entry) in used.enumerated() {
                if starts[entry.position] != entry.offset || entry.offset <= last {
                    report.problems.append(
                        Problem(
                            path: files.index,
                            message: "entry \(index) (offset \(entry.offset), position \(entry.position)) does not match a batch"))
                    break
                }
                last = entry.offset
            }
        } else {
            report.problems.append(Problem(path: files.index, message: "missing (it is rebuilt at the next open)"))
        }
        if FileSystem.exists(files.timeIndex) {
            let (all, partial) = try SegmentFileInspector.timeIndexEntries(path: files.timeIndex)
            if partial != 0 {
                report.problems.append(Problem(path: files.timeIndex, message: "\(partial) stray bytes after the last entry"))
            }
            let used = all.lastIndex { !($0.timestamp == 0 && $0.offset == base) }.map { all[...$0] } ?? []
            var last: (Int64, Int64) = (Int64.min, -1)
            for (index, entry) in used.enumerated() {
                if entry.timestamp <= last.0 || entry.offset < last.1 || entry.offset >= next {
                    report.problems.append(
                        Problem(
                            path: files.timeIndex,
                            message: "entry \(index) (timestamp \(entry.timestamp), offset \(entry.offset)) is out of order or past the log"
                        ))
                    break
                }
                last = (entry.timestamp, entry.offset)
            }
        } else {
            report.problems.append(Problem(path: files.timeIndex, message: "missing (it is rebuilt at the next open)"))
        }
    }
}
