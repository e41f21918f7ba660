import Logging

/// Opens a partition's segments from its directory, as Kafka's `LogLoader` does: finishes or
/// undoes an interrupted compaction swap, removes leftovers, scans what needs scanning, cuts the
/// unsynced tail of an unclean stop, and finds the damage it must keep (Docs/DURABILITY.md).
enum LogLoader {
    /// `topic partition N`, from the partition's directory (`…/topics/<topic>/<N>`), for messages.
    static func label(_ directory: String) -> String {
        let parts = directory.split(separator: "/")
        guard parts.count >= 2 else { return directory }
        return "topic \(parts[parts.count - 2]) partition \(parts[parts.count - 1])"
    }

    /// Whether invalid bytes at `offset` can only be a tail never acknowledged as durable (cut, as
    /// Kafka cuts it) rather than damage to keep: after an unclean stop, at or past the recovery
    /// point, or, when no recovery point is known, in the last segment. `verify` applies the same
    /// rule, so that what it reports as damage is what an open keeps.
    static func isUnsyncedTail(at offset: Int64, cleanShutdown: Bool, recoveryPoint: Int64?, inLastSegment: Bool) -> Bool {
        !cleanShutdown && (recoveryPoint.map { offset >= $0 } ?? inLastSegment)
    }

    /// Whether offsets missing from `offset` up to the next segment are that same tail (a roll
    /// reached the disk before the previous segment's last batches): only past a known recovery point.
    static func isUnsyncedGap(at offset: Int64, cleanShutdown: Bool, recoveryPoint: Int64?) -> Bool {
        !cleanShutdown && recoveryPoint.map { offset >= $0 } ?? false
    }

    /// Opens every segment, scanning those that need it, and finds the damage.
    ///
    /// The policy (Docs/DURABILITY.md): invalid bytes at offsets past the recovery point after an
    /// unclean stop are a tail that never became durable, cut as Kafka cuts it (with the segments
    /// after it, all past the recovery point too). Anything else — damage below the recovery
    /// point, in any segment of a cleanly closed store, or in a segment other than the last when
    /// no recovery point is known — is kept on disk as it is and returned as damage, as are
    /// offsets that no segment holds (a segment missing, or cut short at a batch boundary).
    static func load(
        directory: String, config: LogConfig, logStartOffset: Int64?, recoveryPoint: Int64?,
        cleanShutdown: Bool, repair: Bool, report: inout PartitionLog.OpenReport, logger: Logger
    ) throws(ReservoirError) -> (segments: [Segment], damage: [DamagedRange], logStart: Int64?) {
        let now = wallClockMilliseconds()
        try SegmentSwap.completeInterrupted(directory: directory, report: &report, logger: logger)
        var logs: [Int64] = []
        var indexFiles: [(Int64, String)] = []
        var marked: Set<Int64> = []
        for name in try FileSystem.list(directory) {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") || name.hasSuffix(".deleted") || name.hasSuffix(".cleaned") || name.hasSuffix(".swap") {
                try FileSystem.remove(path)
                report.removedFiles += 1
                continue
            }
            guard let (base, suffix) = SegmentFiles.parse(name) else { continue }
            switch suffix {
            case SegmentFiles.logSuffix: logs.append(base)
            case SegmentFiles.indexSuffix, SegmentFiles.timeIndexSuffix: indexFiles.append((base, path))
            case SegmentFiles.damagedSuffix: marked.insert(base)
            default: break
            }
        }
        let logSet = Set(logs)
        for (base, path) in indexFiles where !logSet.contains(base) {
            try FileSystem.remove(path)
            report.removedFiles += 1
        }
        for base in marked where !logSet.contains(base) {
            try FileSystem.remove(SegmentFiles(directory: directory, baseOffset: base).damagedMarker)
        }
        logs.sort()

        func open(_ base: Int64, active: Bool) throws(ReservoirError) -> Segment {
            try config.openSegment(SegmentFiles(directory: directory, baseOffset: base), active: active, now: now)
        }

        var segments: [Segment] = []
        /// Damage inside segments, by segment base: where it starts and why.
        var damagedAt: [Int64: (position: Int, reason: String)] = [:]
        var expectedNext = logStartOffset ?? 0
        var index = 0
        while index < logs.count {
            let base = logs[index]
            let isLast = index == logs.count - 1
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let indexesMissing = !FileSystem.exists(files.index) || !FileSystem.exists(files.timeIndex)
            let segment = try open(base, active: isLast)
            let wholeBelowRecoveryPoint = !isLast && recoveryPoint.map { logs[index + 1] <= $0 } ?? false
            // A segment found damaged before is scanned at every open until repaired: a clean
            // open checks only indexes and headers, which would not see a flipped bit again.
            // A repair looks at every byte: a clean open checks headers and indexes only.
            var needsScan = !(cleanShutdown || wholeBelowRecoveryPoint) || indexesMissing || marked.contains(base) || repair
            if !needsScan {
                if let reason = segment.loadWithoutScan() {
                    logger.warning("rebuilding index", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
                    needsScan = true
                } else if !segment.isEmpty && segment.timeIndex.entryCount == 0 {
                    needsScan = true
                }
            }
            if needsScan {
                let result = try segment.scan(expectedFirstOffset: min(expectedNext, base))
                report.recoveredSegments += 1
                if result.truncatedBytes > 0 {
                    let damagedFrom = segment.nextOffset
                    if isUnsyncedTail(at: damagedFrom, cleanShutdown: cleanShutdown, recoveryPoint: recoveryPoint, inLastSegment: isLast) {
                        try segment.truncateDamage()
                        report.truncatedBytes += result.truncatedBytes
                        logger.warning(
                            "cut the unsynced tail",
                            metadata: [
                                "segment": "\(files.log)", "bytes": "\(result.truncatedBytes)", "reason": "\(result.reason ?? "")",
                            ])
                        // Every later segment lies past the recovery point too: never durable.
                        for later in logs[(index + 1)...] {
                            try SegmentFiles(directory: directory, baseOffset: later).removeAll()
                            report.removedSegments += 1
                        }
                        logs.removeSubrange((index + 1)...)
                    } else {
                        segment.markDamaged()
                        damagedAt[base] = (result.validBytes, result.reason ?? "invalid bytes")
                        if !marked.contains(base) {
                            do throws(ReservoirError) {
                                try FileSystem.writeAtomically(
                                    Array("byte \(result.validBytes): \(result.reason ?? "")\n".utf8), to: files.damagedMarker)
                            } catch {
                                logger.error(
                                    "could not mark the damaged segment; a clean open may not see the damage again",
                                    metadata: ["segment": "\(files.log)", "error": "\(error)"])
                            }
                        }
                        logger.error(
                            "damaged segment kept as it is",
                            metadata: [
                                "segment": "\(files.log)", "byte": "\(result.validBytes)", "reason": "\(result.reason ?? "")",
                            ])
                    }
                }
            }
            if marked.contains(base), !segment.isDamaged {
                try FileSystem.remove(files.damagedMarker)  // the file was replaced and scans whole now
            }
            // Descriptors are for segments being written: the others are read through their
            // mappings, so a store's descriptors do not grow with its segments.
            if !isLast { segment.releaseDescriptors() }
            segments.append(segment)
            expectedNext = max(expectedNext, segment.nextOffset)
            index += 1
        }

        // Offsets missing between two segments past the recovery point after an unclean stop are
        // the same unsynced tail: a roll had created the next segment before the previous one's
        // last batches reached the disk. Nothing after them was acknowledged durable (a durable
        // acknowledgement there fsyncs the earlier segment first), so the log ends at the gap.
        if let gap = segments.indices.dropLast().first(where: { index in
            !segments[index].isDamaged && segments[index].nextOffset < segments[index + 1].baseOffset
                && isUnsyncedGap(at: segments[index].nextOffset, cleanShutdown: cleanShutdown, recoveryPoint: recoveryPoint)
        }) {
            logger.warning(
                "cut the unsynced tail after a gap",
                metadata: [
                    "offsets": "\(segments[gap].nextOffset)..<\(segments[gap + 1].baseOffset)", "segments": "\(segments.count - gap - 1)",
                ])
            for later in segments[(gap + 1)...] {
                try later.files.removeAll()
                report.removedSegments += 1
            }
            segments.removeSubrange((gap + 1)...)
        }

        // The last segment must be writable: reopen it active if it was opened for reading only.
        // (It was opened for reading when truncation removed the segments after it.)
        if let last = segments.last, !last.isActive {
            try last.finish()
            let reopened = try open(last.baseOffset, active: true)
            if let reason = reopened.loadWithoutScan() {
                logger.warning("rebuilding index", metadata: ["segment": "\(reopened.files.log)", "reason": "\(reason)"])
                _ = try reopened.recover(expectedFirstOffset: last.baseOffset)
            }
            segments[segments.count - 1] = reopened
        }
        for segment in segments.dropLast() where segment.offsetIndex.storage.maxEntries > segment.offsetIndex.entryCount {
            try segment.finish()
            segment.releaseDescriptors()
        }

        // A log start beyond the log's end means segments were deleted by hand or the checkpoint
        // is damaged. Kafka deletes the rest; a damaged checkpoint must not cost data, so the
        // segments are kept and the log start falls back to them.
        if let last = segments.last, let logStartOffset, last.nextOffset < logStartOffset {
            logger.warning(
                "log start offset beyond the log end; keeping the segments",
                metadata: [
                    "logStartOffset": "\(logStartOffset)", "logEndOffset": "\(last.nextOffset)",
                ])
        }
        if segments.isEmpty {
            segments = [try open(logStartOffset ?? 0, active: true)]
        }
        let damage = findDamage(segments, damagedAt: damagedAt, logStartOffset: logStartOffset, recoveryPoint: recoveryPoint)
        for range in damage where range.bytePosition == nil {
            logger.error("offsets missing", metadata: ["offsets": "\(range.offsets)", "reason": "\(range.reason)"])
        }
        guard repair, !damage.isEmpty else { return (segments, damage, logStartOffset) }
        // Closed the way a clean close leaves it (indexes trimmed) before its files change and the
        // log is loaded again from them.
        try segments.last?.finish()
        report.quarantinedFiles += try DamageRepair.repair(damage, segments: segments, directory: directory, now: now)
        report.repaired += damage.filter { $0.kind != .overlap }
        var start = logStartOffset
        if let missing = damage.first(where: { $0.kind == .missingStart }) { start = missing.endOffset }
        logger.warning("repaired damage", metadata: ["ranges": "\(damage.map(\.description))"])
        return try load(
            directory: directory, config: config, logStartOffset: start, recoveryPoint: recoveryPoint,
            cleanShutdown: cleanShutdown, repair: false, report: &report, logger: logger)
    }

    /// The damaged offset ranges of a loaded log: damage inside segments, and offsets no segment
    /// holds. Segments are contiguous (compaction keeps each segment's last offset, retention
    /// removes whole segments from the front and checkpoints the new start first), so a gap
    /// between segments, a first segment above the checkpointed log start, or a log that ends
    /// before its checkpointed recovery point is data that was on disk and is gone.
    static func findDamage(
        _ segments: [Segment], damagedAt: [Int64: (position: Int, reason: String)], logStartOffset: Int64?, recoveryPoint: Int64?
    ) -> [DamagedRange] {
        var damage: [DamagedRange] = []
        if let logStartOffset, let first = segments.first, first.baseOffset > logStartOffset {
            damage.append(
                DamagedRange(
                    kind: .missingStart, firstOffset: logStartOffset, endOffset: first.baseOffset, file: first.files.log, bytePosition: nil,
                    reason: "the log starts at \(logStartOffset) but its first segment at \(first.baseOffset): segments are missing"))
        }
        for (index, segment) in segments.enumerated() {
            let nextBase = index + 1 < segments.count ? segments[index + 1].baseOffset : nil
            if let (position, reason) = damagedAt[segment.baseOffset] {
                var end = nextBase
                if end == nil, let recoveryPoint, recoveryPoint > segment.nextOffset { end = recoveryPoint }
                damage.append(
                    DamagedRange(
                        kind: .invalidBytes, firstOffset: segment.nextOffset, endOffset: end.map { max($0, segment.nextOffset + 1) },
                        file: segment.files.log,
                        bytePosition: position, reason: reason))
            } else if let nextBase, segment.nextOffset < nextBase {
                damage.append(
                    DamagedRange(
                        kind: .missingOffsets, firstOffset: segment.nextOffset, endOffset: nextBase, file: segments[index + 1].files.log,
                        bytePosition: nil,
                        reason: "no segment holds offsets \(segment.nextOffset)..<\(nextBase): a segment is missing or was cut short"))
            } else if let nextBase, segment.nextOffset > nextBase {
                damage.append(
                    DamagedRange(
                        kind: .overlap, firstOffset: nextBase, endOffset: segment.nextOffset, file: segments[index + 1].files.log,
                        bytePosition: nil,
                        reason: "segments overlap: \(segment.files.log) ends at \(segment.nextOffset)"))
            } else if nextBase == nil, let recoveryPoint, recoveryPoint > segment.nextOffset {
                damage.append(
                    DamagedRange(
                        kind: .missingEnd, firstOffset: segment.nextOffset, endOffset: recoveryPoint, file: segment.files.log,
                        bytePosition: nil,
                        reason:
                            "offsets up to \(recoveryPoint) were durable but the log ends at \(segment.nextOffset): the end of the log is missing"
                    ))
            }
        }
        return damage
    }
}
