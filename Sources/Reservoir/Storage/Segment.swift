/// One segment of a partition log: a `.log` file of record batches and its two sparse indexes.
///
/// The log file is written with `pwrite` and read through one shared mapping made at open, large
/// enough for the segment to grow to its configured size; the page cache makes writes visible to
/// the mapping at once. Readers see bytes below ``publishedSize`` only.
///
/// Mutation (append, recover, truncate, finish) happens under the owning log's lock, one writer at
/// a time; readers run concurrently and read only the atomics and the immutable bytes below them.
final class Segment: @unchecked Sendable {
    // Sendable by invariant: the writer-side vars below are touched only under the owning
    // PartitionLog's mutex; what readers use is `published` (atomic) and bytes below it.
    let files: SegmentFiles
    var baseOffset: Int64 { files.baseOffset }
    private let logFile: ReopenableFile
    /// The log file, opened again if its descriptor was released (``releaseDescriptors()``).
    var log: FileHandle { get throws(ReservoirError) { try logFile.handle() } }
    let region: MappedRegion?
    /// The most bytes this segment's mapping can serve.
    let capacity: Int
    /// Opened to be appended to: mapping sized for growth, indexes preallocated.
    let isActive: Bool
    private(set) var offsetIndex: OffsetIndex
    private(set) var timeIndex: TimeIndex
    let indexIntervalBytes: Int
    let maxIndexBytes: Int

    private let published: AtomicInt
    private(set) var size: Int
    private(set) var nextOffset: Int64
    private(set) var maxTimestamp: Int64 = -1
    private(set) var offsetOfMaxTimestamp: Int64
    private var bytesSinceLastIndexEntry = 0
    /// Where ``loadForReading(verify:)`` found bytes that are not a batch, and why (read-only
    /// processes: set once, before the segment is shared).
    private(set) var readingStop: (position: Int, reason: String)?
    /// When the first batch was written (wall clock, ms), for time-based rolls.
    private(set) var createdAt: Int64
    /// Zero-filled space ahead of the writer (active segments with a preallocator only).
    private var preallocation: Preallocation?
    private var preallocator: IOThread?

    /// Opens (or creates) the segment at `files`.
    /// - Parameters:
    ///   - active: the segment will be appended to: indexes preallocated, mapping sized for growth.
    ///   - capacity: bytes the mapping reserves for an active segment (its segment bytes).
    init(files: SegmentFiles, active: Bool, capacity: Int, indexIntervalBytes: Int, maxIndexBytes: Int, now: Int64) throws(ReservoirError) {
        self.files = files
        self.isActive = active
        self.indexIntervalBytes = indexIntervalBytes
        self.maxIndexBytes = maxIndexBytes
        let log = try FileHandle.open(files.log, writable: true, create: true)
        logFile = ReopenableFile(log)
        let size = try log.size()
        self.size = size
        let mapped = max(size, active ? capacity : 0)
        self.capacity = mapped
        region = mapped > 0 ? try MappedRegion(file: log, length: mapped, writable: false) : nil
        offsetIndex = try OffsetIndex(path: files.index, baseOffset: files.baseOffset, maxBytes: maxIndexBytes, writable: active)
        timeIndex = try TimeIndex(path: files.timeIndex, baseOffset: files.baseOffset, maxBytes: maxIndexBytes, writable: active)
        nextOffset = files.baseOffset
        offsetOfMaxTimestamp = files.baseOffset
        published = AtomicInt(size)
        createdAt = now
    }

    /// Opens the segment at `files` for a read-only process: nothing is created, written or
    /// truncated, and no descriptor stays open. `capacity` bytes are mapped, so that a segment
    /// another process appends to is read as it grows, below the sizes that process publishes
    /// (``follow(bytes:nextOffset:indexEntries:timeIndexEntries:)``); until then, or for a
    /// segment nobody writes, ``loadForReading(verify:)`` finds its end.
    init(readingFiles files: SegmentFiles, capacity: Int) throws(ReservoirError) {
        self.files = files
        isActive = false
        indexIntervalBytes = Int.max
        maxIndexBytes = 0
        let log = try FileHandle.open(files.log, writable: false)
        let size = try log.size()
        self.size = size
        let mapped = max(size, capacity)
        self.capacity = mapped
        region = mapped > 0 ? try MappedRegion(file: log, length: mapped, writable: false) : nil
        logFile = ReopenableFile(path: files.log)
        offsetIndex = try OffsetIndex(readingPath: files.index, baseOffset: files.baseOffset)
        timeIndex = try TimeIndex(readingPath: files.timeIndex, baseOffset: files.baseOffset)
        nextOffset = files.baseOffset
        offsetOfMaxTimestamp = files.baseOffset
        published = AtomicInt(0)
        createdAt = 0
    }

    /// Takes the state of a segment another process appends to from what that process
    /// published. The caller (the owning log, under its lock) passes sizes that only grow.
    func follow(bytes: Int, nextOffset: Int64, indexEntries: Int, timeIndexEntries: Int) {
        // A region smaller than `bytes` would be read past its end: never more than is mapped.
        size = max(0, min(bytes, region?.length ?? 0, capacity))
        self.nextOffset = nextOffset
        offsetIndex.storage.limitForReading(entries: indexEntries)
        timeIndex.storage.limitForReading(entries: timeIndexEntries)
        // Unknown while it is written: searches by time look here too.
        maxTimestamp = Int64.max
        published.store(size)
    }

    /// Finds where a segment that no process appends to ends, without changing it: the batches
    /// from the last usable index entry (from the start, each with its CRC, when `verify`), up
    /// to the first bytes that are not a batch. Index entries past that end, or out of order (a
    /// writer that died with its index preallocated), are not used. Returns why the scan stopped
    /// before the file's end at bytes that are not zeros, nil when it read to the end.
    @discardableResult
    func loadForReading(verify: Bool) -> String? {
        guard let region, size > 0 else { return nil }
        var entries = 0
        var previous: OffsetIndex.Entry?
        while entries < offsetIndex.entryCount {
            let entry = offsetIndex.entry(entries)
            guard entry.position < size, entry.offset >= baseOffset,
                previous.map({ entry.offset > $0.offset && entry.position > $0.position }) ?? (entry.position > 0)
            else { break }
            previous = entry
            entries += 1
        }
        offsetIndex.storage.limitForReading(entries: entries)
        let start = verify ? 0 : previous?.position ?? 0
        var scanner = BatchScanner(region.bytes(from: 0, count: size), from: start, verifyCRC: verify)
        var next = baseOffset
        var end = start
        var largest: Int64 = -1
        while let entry = scanner.next() {
            next = entry.header.lastOffset + 1
            end = scanner.position
            largest = max(largest, entry.header.maxTimestamp)
        }
        var timeEntries = 0
        var lastTime: TimeIndex.Entry?
        while timeEntries < timeIndex.entryCount {
            let entry = timeIndex.entry(timeEntries)
            guard entry.offset < next, lastTime.map({ entry.offset > $0.offset && entry.timestamp >= $0.timestamp }) ?? true else { break }
            lastTime = entry
            timeEntries += 1
        }
        timeIndex.storage.limitForReading(entries: timeEntries)
        let reason = scanner.failure.map { "batch at byte \(scanner.position): \($0)" }
        let rest = size - end
        size = end
        nextOffset = end > 0 ? next : baseOffset
        maxTimestamp = start == 0 ? largest : max(largest, lastTime?.timestamp ?? Int64.max)
        published.store(end)
        if rest > 0, !BatchScanner.isZero(region.bytes(from: end, count: rest)) {
            let why = reason ?? "bytes after the last batch"
            readingStop = (end, why)
            return why
        }
        return nil
    }

    /// Bytes readers may read.
    var publishedSize: Int { published.load() }
    var isEmpty: Bool { size == 0 }
    /// The last offset in this segment, or `baseOffset - 1` when empty.
    var lastOffset: Int64 { nextOffset - 1 }

    // MARK: Appending

    /// Whether a batch of `bytes` bytes ending at `lastOffset` fits, or the log must roll first.
    func canAppend(bytes: Int, lastOffset: Int64, segmentBytes: Int) -> Bool {
        if size > 0 && size + bytes > min(segmentBytes, capacity) { return false }
        if size + bytes > capacity { return false }
        if offsetIndex.isFull || timeIndex.isFull { return false }
        if lastOffset - baseOffset > Int64(Int32.max) { return false }
        return true
    }

    /// Starts keeping `lookahead` zero-filled bytes ahead of the writer, filled on `thread`.
    /// Whether space is prepared ahead of this segment's writer.
    var isPreallocating: Bool { preallocation != nil }

    func preallocate(on thread: IOThread, lookahead: Int) {
        // Space ahead is an optimisation: a file that cannot be opened simply gets none.
        guard !isDamaged, lookahead > 0, capacity > size, let file = try? log else { return }
        preallocation = Preallocation(file: file, size: size, limit: capacity, lookahead: lookahead)
        preallocator = thread
    }

    /// Appends one encoded batch whose offsets are already stamped.
    func append(_ batch: EncodedBatch, lastOffset: Int64, now: Int64) throws(ReservoirError) {
        let position = size
        let count = batch.byteCount
        if let preallocation, preallocation.willWrite(upTo: position + count), let preallocator {
            preallocator.submit { preallocation.fill() }
        }
        let log = try self.log
        try batch.withBytes { (bytes) throws(ReservoirError) in try log.write(bytes, at: position) }
        if size == 0 { createdAt = now }
        size += count
        nextOffset = lastOffset + 1
        if batch.maxTimestamp > maxTimestamp {
            maxTimestamp = batch.maxTimestamp
            offsetOfMaxTimestamp = lastOffset
        }
        published.store(size)
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            addIndexEntries(lastOffset: lastOffset, position: position)
        }
        bytesSinceLastIndexEntry += count
    }

    /// Cuts the file back to the last whole batch after a failed write (a short write on a full
    /// disk can leave part of a batch behind).
    func truncateTail() throws(ReservoirError) {
        try log.truncate(to: size)
    }

    /// Adds the offset- and time-index entries for the batch at `position`. An index is a cache:
    /// an entry that cannot be written (a full disk) is left out, and lookups scan a little further.
    private func addIndexEntries(lastOffset: Int64, position: Int) {
        try? offsetIndex.append(offset: lastOffset, position: position)
        try? timeIndex.append(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp)
        bytesSinceLastIndexEntry = 0
    }

    /// Makes the segment read-only for good: forces the final time-index entry and trims both
    /// indexes to their entries (on roll and clean close).
    func finish() throws(ReservoirError) {
        if let preallocation {
            preallocation.stop()
            self.preallocation = nil
        }
        // Cut off preallocated zeros: a closed segment's length is its logical size. A damaged
        // segment's bytes past its valid batches are kept for the operator.
        if !isDamaged, try log.size() != size { try log.truncate(to: size) }
        // Retention reads the largest timestamp from this entry; without it (a full disk) the
        // segment's time index is rebuilt at the next open.
        if maxTimestamp >= 0 { try? timeIndex.append(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp, force: true) }
        try offsetIndex.storage.trim()
        try timeIndex.storage.trim()
    }

    /// Lets the three descriptors go: a segment that is no longer written is read through its
    /// mappings, and opens its files again for the rare write (trim, sync, repair).
    func releaseDescriptors() {
        logFile.release()
        offsetIndex.storage.releaseDescriptor()
        timeIndex.storage.releaseDescriptor()
    }

    /// Flushes the log file's data to disk.
    func syncLog() throws(ReservoirError) { try log.syncData() }

    /// Flushes the log and both indexes.
    func syncAll() throws(ReservoirError) {
        try log.syncData()
        try offsetIndex.storage.sync()
        try timeIndex.storage.sync()
    }

    // MARK: Loading and recovery

    /// Starts the time-based roll clock of a reopened segment at its first batch's timestamp (as
    /// Kafka does), unless that lies in the future.
    func restoreRollClock(now: Int64) {
        guard let region, size >= RecordBatchHeader.size,
            let header = try? RecordBatchHeader.read(from: UnsafeRawBufferPointer(start: region.base, count: size))
        else { return }
        if header.maxTimestamp >= 0 && header.maxTimestamp <= now { createdAt = header.maxTimestamp }
    }

    /// The last offset of the valid batches at the start of the log file at `path`, or nil when
    /// it holds none.
    static func lastOffset(ofLogFile path: String) throws(ReservoirError) -> Int64? {
        let file = try FileHandle.open(path, writable: false)
        let size = try file.size()
        guard size > 0 else { return nil }
        let region = try MappedRegion(file: file, length: size, writable: false)
        var scanner = BatchScanner(region.bytes(from: 0, count: size), verifyCRC: true)
        var last: Int64?
        while let entry = scanner.next() { last = entry.header.lastOffset }
        return last
    }

    /// Restores the writer state of a segment that was closed cleanly: the last batch is found
    /// from the last index entry, the largest timestamp from the time index.
    /// Returns a reason when the indexes fail their sanity checks (the caller then recovers).
    func loadWithoutScan() -> String? {
        if let reason = offsetIndex.sanityCheck(logSize: size) { return "\(files.index): \(reason)" }
        guard let region else {
            return timeIndex.entryCount > 0 ? "\(files.timeIndex): entries for an empty log" : nil
        }
        var scanner = BatchScanner(region.bytes(from: 0, count: size), from: offsetIndex.lastEntry?.position ?? 0)
        var next = baseOffset
        while let entry = scanner.next() { next = entry.header.lastOffset + 1 }
        if let failure = scanner.failure { return "\(files.log): invalid batch at byte \(scanner.position): \(failure)" }
        nextOffset = next
        if let reason = timeIndex.sanityCheck(lastOffset: next - 1) { return "\(files.timeIndex): \(reason)" }
        if let last = timeIndex.lastEntry {
            maxTimestamp = last.timestamp
            offsetOfMaxTimestamp = last.offset
        }
        return nil
    }

    /// What a recovery scan found.
    struct RecoveryResult {
        /// Bytes of whole, valid batches at the start of the file.
        var validBytes: Int
        /// Bytes after them that did not scan (0 when the file scanned whole); a zero-filled
        /// preallocated tail is trimmed and not counted.
        var truncatedBytes: Int
        var batches: Int
        var reason: String?
    }

    /// Scans every batch from the start (bounds, magic, CRC, offsets), rebuilds both indexes and
    /// truncates the log at the first invalid byte.
    /// - Parameter expectedFirstOffset: batches must start at or after this offset.
    func recover(expectedFirstOffset: Int64) throws(ReservoirError) -> RecoveryResult {
        let result = try scan(expectedFirstOffset: expectedFirstOffset)
        if result.truncatedBytes > 0 { try truncateDamage() }
        return result
    }

    /// Scans every batch from the start (bounds, magic, CRC, offsets) and rebuilds both indexes.
    /// A zero-filled tail (space preallocated ahead of the writer) is trimmed. At the first invalid
    /// byte the segment's readable size stops, but the file keeps every byte: the caller decides
    /// whether the rest is an unacknowledged tail to cut (``truncateDamage()``) or damage to keep
    /// (``markDamaged()``).
    /// - Parameter expectedFirstOffset: batches must start at or after this offset.
    func scan(expectedFirstOffset: Int64) throws(ReservoirError) -> RecoveryResult {
        try rebuildIndexes()
        var position = 0
        var next = max(expectedFirstOffset, baseOffset)
        var batches = 0
        var reason: String?
        var maxTs: Int64 = -1
        var offsetOfMaxTs = baseOffset
        bytesSinceLastIndexEntry = 0
        if let region {
            var scanner = BatchScanner(region.bytes(from: 0, count: size), verifyCRC: true, segmentBase: baseOffset, firstOffset: next)
            while let entry = scanner.next() {
                let header = entry.header
                // Taken into the segment's largest timestamp only once the batch is kept.
                let (largest, offsetOfLargest) =
                    header.maxTimestamp > maxTs ? (header.maxTimestamp, header.lastOffset) : (maxTs, offsetOfMaxTs)
                if bytesSinceLastIndexEntry > indexIntervalBytes {
                    if offsetIndex.isFull || timeIndex.isFull {
                        reason = "index full at byte \(position)"
                        break
                    }
                    try? offsetIndex.append(offset: header.lastOffset, position: position)
                    try? timeIndex.append(timestamp: largest, offset: offsetOfLargest)
                    bytesSinceLastIndexEntry = 0
                }
                (maxTs, offsetOfMaxTs) = (largest, offsetOfLargest)
                bytesSinceLastIndexEntry += header.totalSize
                next = header.lastOffset + 1
                position = scanner.position
                batches += 1
            }
            if reason == nil, let stop = scanner.stop, stop != .end { reason = "batch at byte \(position): \(stop)" }
        }
        var rest = size - position
        if rest > 0, let region, BatchScanner.isZero(region.bytes(from: position, count: rest)) {
            // Preallocated space the writer had not reached: zeros hold no record, cutting them loses nothing.
            reason = nil
            try log.truncate(to: position)
            rest = 0
        }
        size = position
        published.store(position)
        nextOffset = batches > 0 ? next : baseOffset
        maxTimestamp = maxTs
        offsetOfMaxTimestamp = offsetOfMaxTs
        return RecoveryResult(validBytes: position, truncatedBytes: rest, batches: batches, reason: reason)
    }

    /// Cuts the file back to the valid batches a scan found (the unacknowledged tail of a crash).
    func truncateDamage() throws(ReservoirError) {
        try log.truncate(to: size)
    }

    /// The file holds bytes past the valid batches that must be kept for an operator to inspect or
    /// repair: nothing ever truncates this segment's file, and it is never appended to.
    private(set) var isDamaged = false

    /// Keeps the bytes past the valid batches a scan found (see ``isDamaged``).
    func markDamaged() {
        isDamaged = true
        if let preallocation {
            preallocation.stop()
            self.preallocation = nil
        }
    }

    /// Replaces both indexes with empty, writable ones.
    private func rebuildIndexes() throws(ReservoirError) {
        try FileSystem.remove(files.index)
        try FileSystem.remove(files.timeIndex)
        offsetIndex = try OffsetIndex(path: files.index, baseOffset: baseOffset, maxBytes: maxIndexBytes, writable: true)
        timeIndex = try TimeIndex(path: files.timeIndex, baseOffset: baseOffset, maxBytes: maxIndexBytes, writable: true)
    }
}
