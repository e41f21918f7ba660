import Logging

/// Kafka's crash-safe replacement of segments by cleaned ones, on disk.
///
/// The cleaner writes each group's replacement as `<first base>.log.cleaned` (fsync'd) through
/// ``cleanedFile(directory:base:)``; ``commit()`` then renames every `.cleaned` file `.swap` and
/// fsyncs the directory (the point of no return), renames the old segments' files `.deleted`, and
/// renames the `.swap` files into place, fsyncing the directory again. A crash anywhere leaves a
/// state that ``completeInterrupted(directory:report:logger:)``, run when the partition opens,
/// finishes or undoes.
struct SegmentSwap {
    let directory: String
    /// The old segments of each cleaned file, oldest first within a group.
    let groups: [[Segment]]
    let logger: Logger

    /// A failed commit, and whether its files are left between the two states for the next open
    /// to resolve (a failure past the point of no return, or an undo that failed too): nothing
    /// may then remove or rename them.
    struct Failure: Error {
        var error: ReservoirError
        var leftForRecovery: Bool
    }

    /// Where the cleaner writes the replacement of the group whose first segment starts at `base`.
    static func cleanedFile(directory: String, base: Int64) -> String {
        SegmentFiles(directory: directory, baseOffset: base).log + SegmentFiles.cleanedSuffix
    }

    /// Renames the files, in Kafka's order (see the type's description).
    func commit() throws(Failure) {
        let bases = groups.map { $0[0].baseOffset }.sorted(by: >)
        // Before the point of no return (every `.swap` file durable), a failure is undone: the
        // `.swap` files go back to `.cleaned`, which the cleaner then removes, so that the disk
        // never holds some `.swap` files without a `.cleaned` one (recovery would install them:
        // part of a clean). A crash during the undo leaves a `.cleaned` file: rolled back at open.
        var renamed: [SegmentFiles] = []
        do throws(ReservoirError) {
            for base in bases {
                let files = SegmentFiles(directory: directory, baseOffset: base)
                try FileSystem.rename(files.log + SegmentFiles.cleanedSuffix, to: files.log + SegmentFiles.swapSuffix)
                renamed.append(files)
            }
            try FileSystem.syncDirectory(directory)
        } catch {
            var undone = true
            for files in renamed.reversed() {
                do throws(ReservoirError) {
                    try FileSystem.rename(files.log + SegmentFiles.swapSuffix, to: files.log + SegmentFiles.cleanedSuffix)
                } catch {
                    logger.error(
                        "undoing a failed compaction swap failed; the next open undoes it",
                        metadata: ["file": "\(files.log)", "error": "\(error)"])
                    undone = false
                }
            }
            // Not undone: the `.cleaned` files left must stay beside the `.swap` ones, so that the
            // next open rolls the swap back instead of installing part of it.
            throw Failure(error: error, leftForRecovery: !undone)
        }
        // Past the point of no return: the next open installs the cleaned segments whatever
        // happens now. A failure stops compaction of this log until then (its files are between
        // the two states); reads and appends go on from the segments in memory.
        do throws(ReservoirError) {
            for group in groups {
                for segment in group { try segment.files.rename(addingSuffix: SegmentFiles.deletedSuffix) }
            }
            for base in bases {
                let files = SegmentFiles(directory: directory, baseOffset: base)
                try FileSystem.rename(files.log + SegmentFiles.swapSuffix, to: files.log)
            }
            try FileSystem.syncDirectory(directory)
        } catch {
            logger.error(
                "a compaction swap failed past its point of no return; the next open completes it", metadata: ["error": "\(error)"])
            throw Failure(error: error, leftForRecovery: true)
        }
    }

    /// Finishes or undoes a compaction swap a crash interrupted (see ``commit()``).
    ///
    /// `.cleaned` files present: the swap had not started, or was renaming them to `.swap`; no
    /// old segment was touched yet, so every `.swap` and `.cleaned` file is removed (`.swap`
    /// first, so that a crash during this rollback is rolled back again). Only `.swap` files:
    /// every cleaned segment was complete and durable; each replaces the segments whose base
    /// offsets lie in its offset range, which is exactly the range of the segments it was cleaned
    /// from (the cleaner keeps the last batch of each group, empty if need be).
    static func completeInterrupted(directory: String, report: inout PartitionLog.OpenReport, logger: Logger) throws(ReservoirError) {
        let names = try FileSystem.list(directory)
        let cleaned = names.filter { $0.hasSuffix(SegmentFiles.cleanedSuffix) }
        let swaps = names.filter { $0.hasSuffix(SegmentFiles.swapSuffix) }
        guard !cleaned.isEmpty || !swaps.isEmpty else { return }
        if !cleaned.isEmpty {
            for name in swaps { try FileSystem.remove(directory + "/" + name) }
            if !swaps.isEmpty { try FileSystem.syncDirectory(directory) }
            for name in cleaned { try FileSystem.remove(directory + "/" + name) }
            report.removedFiles += swaps.count + cleaned.count
            logger.warning("rolled back an interrupted compaction", metadata: ["files": "\(swaps.count + cleaned.count)"])
            return
        }
        let logBases = names.compactMap { name -> Int64? in
            guard let (base, suffix) = SegmentFiles.parse(name), suffix == SegmentFiles.logSuffix else { return nil }
            return base
        }
        for name in swaps {
            let path = directory + "/" + name
            guard let (base, suffix) = SegmentFiles.parse(name), suffix == SegmentFiles.logSuffix + SegmentFiles.swapSuffix,
                let last = try Segment.lastOffset(ofLogFile: path)
            else {
                try FileSystem.remove(path)
                report.removedFiles += 1
                continue
            }
            for old in logBases where old >= base && old <= last {
                try SegmentFiles(directory: directory, baseOffset: old).removeAll()
                report.removedSegments += 1
            }
            try FileSystem.rename(path, to: SegmentFiles(directory: directory, baseOffset: base).log)
        }
        try FileSystem.syncDirectory(directory)
        logger.warning("completed an interrupted compaction", metadata: ["segments": "\(swaps.count)"])
    }
}
