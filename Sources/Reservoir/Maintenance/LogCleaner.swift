/// Compacts partition logs by key, Kafka's log cleaner: for every key only the record with the
/// highest offset survives; offsets and order never change (gaps appear); tombstones (records
/// with a null value) delete their key and are themselves removed once their delete horizon,
/// stamped the first time the cleaner rewrites them, has passed.
///
/// A pass over one log has two phases. Phase 1 reads the dirty section (offsets from the first
/// dirty offset on, in segments that may be cleaned) into an ``OffsetMap`` of key digest →
/// latest offset, stopping early when the map is full. Phase 2 rewrites every cleanable segment
/// from the log start up to where the map stopped, in groups merged up to the segment size,
/// into `.cleaned` files that ``PartitionLog/replaceSegments(_:deleteDelayMs:)`` swaps in. The
/// next pass's dirty section starts where this one's map stopped, so a small map still gets
/// through any log, one prefix per pass.
///
/// A cleaner is used by one thread at a time; it reuses its map memory and buffers across passes.
final class LogCleaner {
    /// What a pass may do.
    /// Whether a record (its key, its value or nil for a tombstone) replaces the earlier records
    /// of its key when the log is compacted.
    typealias SupersedingRule = @Sendable (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) -> Bool

    struct Settings {
        var deleteRetentionMs: Int64 = 86_400_000
        var minCompactionLagMs: Int64 = 0
        var compression: CompressionCodec = .none
        var compressionLevel: Int = 0
        var segmentBytes: Int = 1 << 30
        var maxIndexBytes: Int = 10 << 20
        var deleteDelayMs: Int64 = 60_000
        /// Which records replace their key's earlier ones; nil: every keyed record does (Kafka's
        /// rule). The store's internal tables say no for a value they cannot decode, which then
        /// does not compact away the value before it (the one ``CompactedTable`` keeps when it
        /// loads).
        var supersedes: SupersedingRule?
    }

    /// How dirty a log is.
    struct Survey {
        /// Bytes of cleanable segments wholly below the first dirty offset.
        var cleanBytes = 0
        /// Bytes of cleanable segments from the one holding the first dirty offset on.
        var dirtyBytes = 0
        /// The first offset not yet compacted (after any reset to the log start).
        var firstDirty: Int64 = 0
        /// The timestamp of the first batch of the first dirty segment, or nil.
        var oldestDirtyTimestamp: Int64?

        /// Dirty bytes as a share of all cleanable bytes (0 when there are none).
        var dirtyRatio: Double {
            cleanBytes + dirtyBytes == 0 ? 0 : Double(dirtyBytes) / Double(cleanBytes + dirtyBytes)
        }
    }

    /// What a pass did.
    struct PassResult {
        /// Where the next pass's dirty section starts.
        var nextDirty: Int64
        var dirtyBytesRead = 0
        var bytesBefore = 0
        var bytesAfter = 0
        var recordsRemoved = 0
        var unkeyedRecordsRemoved = 0
        var tombstonesRemoved = 0
        var segmentsBefore = 0
        var segmentsAfter = 0
    }

    /// The memory the key map may use.
    let mapMemoryBytes: Int
    private let decoder = RecordDecoder()
    private var rewriters: [CompressionCodec: BatchRewriter] = [:]
    private let chunk = ByteBuffer(capacity: 1 << 20)
    private var kept: [DecodedRecord] = []

    init(mapMemoryBytes: Int) {
        self.mapMemoryBytes = mapMemoryBytes
    }

    // MARK: Choosing

    /// The segments a pass may touch: durable, not active, and none newer than the minimum
    /// compaction lag (the first segment holding a record that young, and all after it, wait).
    private static func cleanable(_ segments: [Segment], now: Int64, minCompactionLagMs: Int64) -> [Segment] {
        guard minCompactionLagMs > 0 else { return segments }
        return Array(segments.prefix { now.clampedMinus($0.maxTimestamp) >= minCompactionLagMs })
    }

    /// How dirty `log` is, given the first dirty offset last checkpointed.
    static func survey(_ log: PartitionLog, firstDirty checkpoint: Int64, now: Int64, minCompactionLagMs: Int64) -> Survey {
        let (all, logStart, _) = log.segmentsForCleaning()
        let segments = cleanable(all, now: now, minCompactionLagMs: minCompactionLagMs)
        var survey = Survey()
        let end = segments.last?.nextOffset ?? logStart
        survey.firstDirty = checkpoint < logStart || checkpoint > end ? logStart : checkpoint
        for segment in segments {
            if segment.nextOffset <= survey.firstDirty {
                survey.cleanBytes += segment.size
            } else {
                if survey.oldestDirtyTimestamp == nil { survey.oldestDirtyTimestamp = segment.firstBatchTimestamp }
                survey.dirtyBytes += segment.size
            }
        }
        return survey
    }

    // MARK: Cleaning

    /// Cleans `log` once. Returns nil when there was nothing to clean or `isCancelled` said stop
    /// (the partial output is removed; the log is untouched).
    ///
    /// With `rewritingCleanSection`, a log with no dirty section is still rewritten, which
    /// removes tombstones whose delete horizon has passed (otherwise that waits for new writes).
    func clean(
        _ log: PartitionLog, firstDirty checkpoint: Int64, settings: Settings, now: Int64,
        rewritingCleanSection: Bool = false, isCancelled: () -> Bool
    ) throws(ReservoirError) -> PassResult? {
        try log.withMaintenanceLock { () throws(ReservoirError) -> PassResult? in
            let (all, logStart, producerLastOffsets) = log.segmentsForCleaning()
            let segments = Self.cleanable(all, now: now, minCompactionLagMs: settings.minCompactionLagMs)
            let end = segments.last?.nextOffset ?? logStart
            let firstDirty = checkpoint < logStart || checkpoint > end ? logStart : checkpoint
            let dirty = segments.filter { $0.nextOffset > firstDirty }
            guard !dirty.isEmpty || (rewritingCleanSection && !segments.isEmpty) else { return nil }

            // Phase 1: index the dirty section.
            let expected = dirty.reduce(0) { $0 + Int($1.nextOffset - max($1.baseOffset, firstDirty)) }
            let map = OffsetMap(memoryBytes: mapMemoryBytes, expectedKeys: expected)
            var result = PassResult(nextDirty: firstDirty)
            let mapEnd = try buildMap(map, over: dirty, from: firstDirty, supersedes: settings.supersedes, result: &result)
            guard mapEnd > firstDirty || dirty.isEmpty else { return nil }
            result.nextDirty = mapEnd

            // Phase 2: rewrite everything from the log start up to where the map ends.
            let targets = segments.prefix { $0.baseOffset < mapEnd }
            let groups = Self.group(Array(targets), segmentBytes: settings.segmentBytes, maxIndexBytes: settings.maxIndexBytes)
            var written: [String] = []
            do throws(ReservoirError) {
                for group in groups {
                    let path = SegmentSwap.cleanedFile(directory: log.directory, base: group[0].baseOffset)
                    written.append(path)
                    guard
                        let size = try write(
                            group, to: path, map: map, mapEnd: mapEnd, producerLastOffsets: producerLastOffsets,
                            settings: settings, now: now, result: &result, isCancelled: isCancelled)
                    else {
                        for path in written { try? FileSystem.remove(path) }
                        return nil
                    }
                    result.bytesBefore += group.reduce(0) { $0 + $1.size }
                    result.bytesAfter += size
                    result.segmentsBefore += group.count
                }
                result.segmentsAfter = groups.count
                try log.replaceSegments(groups, deleteDelayMs: settings.deleteDelayMs)
                return result
            } catch {
                // A swap that left its files for the next open to resolve keeps them all.
                if !log.hasUnfinishedSwap { for path in written { try? FileSystem.remove(path) } }
                throw error
            }
        }
    }

    /// Puts every keyed record from `firstDirty` on into `map`; returns the offset where indexing
    /// stopped (everything below it is in the map).
    private func buildMap(
        _ map: OffsetMap, over segments: [Segment], from firstDirty: Int64,
        supersedes: SupersedingRule?, result: inout PassResult
    ) throws(ReservoirError) -> Int64 {
        var mapEnd = firstDirty
        var full = false
        for segment in segments {
            result.dirtyBytesRead += segment.size
            try segment.forEachBatch(from: firstDirty) { (batch) throws(ReservoirError) -> Bool in
                do throws(FormatError) {
                    try decoder.iterate(batch, verifyCRC: true) { record in
                        guard record.offset >= firstDirty else { return true }
                        if let key = record.keyBytes, supersedes?(key, record.valueBytes) ?? true,
                            !map.put(KeyDigest(key), offset: record.offset)
                        {
                            full = true
                            return false
                        }
                        mapEnd = record.offset + 1
                        return true
                    }
                } catch {
                    throw error.reservoirError(context: "\(segment.files.log) batch at offset \(batch.baseOffset)")
                }
                if full { return false }
                mapEnd = max(mapEnd, batch.nextOffset)
                return true
            }
            if full { break }
        }
        return mapEnd
    }

    /// Groups consecutive segments so that each group fits one segment: total size, index
    /// entries and the 32-bit relative offset range (Kafka's `groupSegmentsBySize`).
    static func group(_ segments: [Segment], segmentBytes: Int, maxIndexBytes: Int) -> [[Segment]] {
        var groups: [[Segment]] = []
        var index = 0
        while index < segments.count {
            var group = [segments[index]]
            var bytes = segments[index].size
            var indexBytes = segments[index].offsetIndex.entryCount * OffsetIndex.entrySize
            index += 1
            while index < segments.count {
                let next = segments[index]
                let nextIndexBytes = next.offsetIndex.entryCount * OffsetIndex.entrySize
                guard bytes + next.size <= segmentBytes, indexBytes + nextIndexBytes <= maxIndexBytes - TimeIndex.entrySize,
                    next.lastOffset - group[0].baseOffset <= Int64(Int32.max)
                else { break }
                group.append(next)
                bytes += next.size
                indexBytes += nextIndexBytes
                index += 1
            }
            groups.append(group)
        }
        return groups
    }

    /// Writes the surviving records of `group` to `path` and fsyncs it. Returns its size, or nil
    /// when cancelled.
    ///
    /// An idempotent producer's newest batch stays, as a header without records when none of its
    /// records survive (Kafka's cleaner does the same): its sequence numbers are what the producer
    /// state is rebuilt from when no snapshot can be read.
    private func write(
        _ group: [Segment], to path: String, map: OffsetMap, mapEnd: Int64, producerLastOffsets: [Int64: Int64],
        settings: Settings, now: Int64,
        result: inout PassResult, isCancelled: () -> Bool
    ) throws(ReservoirError) -> Int? {
        try FileSystem.remove(path)
        let file = try FileHandle.open(path, create: true, exclusive: true)
        let rewriter = try rewriter(for: settings)
        var fileSize = 0
        var buffered = 0
        var lastHeader: RecordBatchHeader?
        var lastWasDropped = false
        var cancelled = false

        func emit(_ bytes: UnsafeRawBufferPointer) throws(ReservoirError) {
            if buffered + bytes.count > chunk.capacity && buffered > 0 {
                try file.write(chunk.bytes(count: buffered), at: fileSize)
                fileSize += buffered
                buffered = 0
            }
            if bytes.count > chunk.capacity {
                try file.write(bytes, at: fileSize)
                fileSize += bytes.count
                return
            }
            if let source = bytes.baseAddress { (chunk.base + buffered).copyMemory(from: source, byteCount: bytes.count) }
            buffered += bytes.count
        }

        for segment in group {
            try segment.forEachBatch(from: 0) { (batch) throws(ReservoirError) -> Bool in
                if isCancelled() {
                    cancelled = true
                    return false
                }
                lastHeader = batch.header
                let header = batch.header
                if header.isControl || header.baseOffset >= mapEnd {
                    try batch.withUnsafeBytes { (bytes) throws(ReservoirError) in try emit(bytes) }
                    lastWasDropped = false
                    return true
                }
                kept.removeAll(keepingCapacity: true)
                var keptTombstone = false
                let horizonPassed = header.hasDeleteHorizon && now >= header.baseTimestamp
                do throws(FormatError) {
                    try decoder.iterate(batch, verifyCRC: true) { record in
                        if record.offset >= mapEnd {
                            kept.append(record.record)
                            return true
                        }
                        guard let key = record.keyBytes else {
                            result.unkeyedRecordsRemoved += 1
                            return true
                        }
                        if let latest = map.get(KeyDigest(key)), latest > record.offset { return true }
                        if record.valueBytes == nil {
                            if horizonPassed {
                                result.tombstonesRemoved += 1
                                return true
                            }
                            keptTombstone = true
                        }
                        kept.append(record.record)
                        return true
                    }
                } catch {
                    throw error.reservoirError(context: "\(segment.files.log) batch at offset \(batch.baseOffset)")
                }
                result.recordsRemoved += Int(header.recordCount) - kept.count
                if kept.isEmpty {
                    if header.producerId >= 0, producerLastOffsets[header.producerId] == header.lastOffset {
                        let empty = BatchRewriter.emptyBatch(like: header)
                        try empty.withUnsafeBytes { bytes in Result { () throws(ReservoirError) in try emit(bytes) } }.get()
                        lastWasDropped = false
                    } else {
                        lastWasDropped = true
                    }
                    return true
                }
                lastWasDropped = false
                let needsHorizon = keptTombstone && !header.hasDeleteHorizon
                if kept.count == Int(header.recordCount) && !needsHorizon && header.compression == settings.compression {
                    try batch.withUnsafeBytes { (bytes) throws(ReservoirError) in try emit(bytes) }
                    return true
                }
                let horizon: Int64? =
                    header.hasDeleteHorizon ? header.baseTimestamp : (needsHorizon ? now.clampedPlus(settings.deleteRetentionMs) : nil)
                rewriter.begin(header, deleteHorizon: horizon)
                for record in kept { rewriter.keep(record) }
                try emit(rewriter.finish())
                return true
            }
            if cancelled { break }
        }
        // Keep the group's last offset: a crash mid-swap is resolved by the offset range of each
        // cleaned file, and the log end must not move back.
        if !cancelled, lastWasDropped, let lastHeader {
            let empty = BatchRewriter.emptyBatch(like: lastHeader)
            try empty.withUnsafeBytes { bytes in Result { () throws(ReservoirError) in try emit(bytes) } }.get()
        }
        if buffered > 0 && !cancelled {
            try file.write(chunk.bytes(count: buffered), at: fileSize)
            fileSize += buffered
        }
        kept.removeAll(keepingCapacity: true)
        if cancelled {
            try FileSystem.remove(path)
            return nil
        }
        try file.syncData()
        return fileSize
    }

    private func rewriter(for settings: Settings) throws(ReservoirError) -> BatchRewriter {
        if let existing = rewriters[settings.compression], existing.encoder.compressionLevel == settings.compressionLevel {
            return existing
        }
        let rewriter = try BatchRewriter(compression: settings.compression, compressionLevel: settings.compressionLevel)
        rewriters[settings.compression] = rewriter
        return rewriter
    }
}
