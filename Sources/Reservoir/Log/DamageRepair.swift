/// What an operator's repair does to a damaged partition (`reservoir verify --repair`,
/// ``Reservoir/Options/repairDamage``): keep every batch that passes its checks, move the
/// damaged bytes aside, and mark the offsets that are lost so that the log reads past them.
///
/// - A segment with invalid bytes is rewritten: its valid batches, every later batch in the file
///   that passes its checks (found by scanning forward byte by byte), and empty batches (no
///   records, Kafka's own form of an offset range compaction emptied) over the offsets between
///   them. The original file is first linked into the partition's `quarantine/` folder, so not a
///   byte of it is lost; the new file replaces it with one atomic rename.
/// - Offsets no segment holds (a segment missing, a log that ends before its recovery point) get
///   empty batches appended to the segment before them.
/// - A log start checkpoint below the first segment moves up to it.
///
/// Every step is crash-safe: a crash leaves the original file in place (repair runs again) or the
/// repaired one with the original in `quarantine/`.
enum DamageRepair {
    /// Repairs the damage `load` found in `segments` (closing the segments it rewrites; the caller
    /// loads the log again). Returns the files moved to quarantine.
    static func repair(_ damage: [DamagedRange], segments: [Segment], directory: String, now: Int64) throws(ReservoirError) -> [String] {
        var quarantined: [String] = []
        for range in damage {
            guard let index = segments.firstIndex(where: { $0.files.log == range.file }) else { continue }
            if range.bytePosition != nil {
                quarantined.append(try rewrite(segments[index], range: range, directory: directory, now: now))
            } else if range.kind == .overlap {
                continue  // Two segments claim the same offsets: which to keep is the operator's call.
            } else if let end = range.endOffset {
                // Offsets no file holds: mark them in the segment before them (or the segment itself
                // for a missing end of log); a missing start moves the log start instead (by the caller).
                let holder =
                    range.firstOffset == segments[index].nextOffset
                    ? segments[index]
                    : index > 0 ? segments[index - 1] : nil
                guard let holder, holder.nextOffset == range.firstOffset else { continue }
                try appendPlaceholders(to: holder.files.log, base: holder.baseOffset, from: range.firstOffset, to: end)
                try FileSystem.remove(holder.files.index)
                try FileSystem.remove(holder.files.timeIndex)
            }
        }
        try FileSystem.syncDirectory(directory)
        return quarantined
    }

    /// Rewrites a damaged segment as described above; returns the quarantined copy's path.
    private static func rewrite(_ segment: Segment, range: DamagedRange, directory: String, now: Int64) throws(ReservoirError) -> String {
        let path = segment.files.log
        let original = try FileHandle.open(path, writable: false).readAll()
        let limit = range.endOffset ?? Int64.max
        // The batches to keep (byte ranges of the original) and the offset gaps between them.
        var kept: [(gapFrom: Int64, gapTo: Int64, bytes: Range<Int>)] = []
        var expected = segment.baseOffset
        original.withUnsafeBytes { bytes in
            var scanner = BatchScanner(bytes, verifyCRC: true)
            var resyncing = false
            while scanner.remaining >= RecordBatchHeader.size {
                let position = scanner.position
                // Offsets are checked here, not by the scanner: a batch whose base offset was hit
                // (it lies outside the CRC) must not stop the batches after it from being kept.
                guard let entry = scanner.next(), entry.header.baseOffset >= expected, entry.header.lastOffset < limit,
                    entry.header.lastOffset - segment.baseOffset <= Int64(Int32.max)
                else {
                    // Not a batch here: look for the next one a byte further on.
                    resyncing = true
                    scanner.resume(at: position + 1)
                    continue
                }
                let header = entry.header
                let gapFrom = resyncing || header.baseOffset > expected ? expected : header.baseOffset
                kept.append((gapFrom, header.baseOffset, entry.range))
                resyncing = false
                expected = header.lastOffset + 1
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(original.count)
        for piece in kept {
            try placeholders(from: piece.gapFrom, to: piece.gapTo, segmentBase: segment.baseOffset, into: &output)
            output.append(contentsOf: original[piece.bytes])
        }
        if let end = range.endOffset, end > expected {
            try placeholders(from: expected, to: end, segmentBase: segment.baseOffset, into: &output)
        }

        let temporary = path + ".repair.tmp"
        try FileSystem.remove(temporary)
        do {
            let file = try FileHandle.open(temporary, create: true, exclusive: true)
            try file.write(output, at: 0)
            try file.sync()
        }
        let quarantine = StoreLayout.quarantineDirectory(inPartition: directory)
        try FileSystem.createDirectory(quarantine)
        try FileSystem.syncDirectory(directory)
        let copy = quarantine + "/" + FileSystem.fileName(of: path) + ".damaged-\(now)"
        try FileSystem.link(path, to: copy)
        try FileSystem.syncDirectory(quarantine)
        try FileSystem.rename(temporary, to: path)
        try FileSystem.remove(segment.files.damagedMarker)
        try FileSystem.remove(segment.files.index)
        try FileSystem.remove(segment.files.timeIndex)
        return copy
    }

    /// Appends empty batches over `from..<to` to the log file at `path` (a segment based at `base`).
    private static func appendPlaceholders(to path: String, base: Int64, from: Int64, to: Int64) throws(ReservoirError) {
        var bytes: [UInt8] = []
        try placeholders(from: from, to: to, segmentBase: base, into: &bytes)
        let file = try FileHandle.open(path)
        try file.write(bytes, at: try file.size())
        try file.sync()
    }

    /// Empty batches (no records) that together take the offsets `from..<to`, each within the
    /// 32-bit offset range a batch and a segment can describe.
    static func placeholders(from: Int64, to: Int64, segmentBase: Int64, into output: inout [UInt8]) throws(ReservoirError) {
        guard to > from else { return }
        guard to - 1 - segmentBase <= Int64(Int32.max) else {
            throw ReservoirError(
                .corruptData,
                "offsets \(from)..<\(to) are too far from segment \(segmentBase) to be marked in it; move the damaged files aside by hand")
        }
        var start = from
        while start < to {
            let last = min(to - 1, start + Int64(Int32.max))
            var header = RecordBatchHeader.empty
            header.baseOffset = start
            header.lastOffsetDelta = Int32(last - start)
            header.baseTimestamp = -1
            header.maxTimestamp = -1
            output.append(contentsOf: BatchRewriter.emptyBatch(like: header))
            start = last + 1
        }
    }
}
