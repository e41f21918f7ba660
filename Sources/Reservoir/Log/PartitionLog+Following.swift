#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// A partition log opened by a read-only process follows the process that writes the store:
/// it maps the segments as they are, never changes a file, and takes its ends and its segment
/// list from what the writer publishes in the store's live state.
///
/// - While the writer publishes, the active segment is read below the bytes and index entries the
///   writer published, and the segment list is read again from the directory when the layout
///   generation changes (roll, retention, compaction, record deletion), only once the change is
///   complete; until then the segments already mapped are read (a mapping outlives its file).
/// - With no writer (the store closed, or its writer gone), the files are read as they are: each
///   segment up to its last batch that scans (the last one with CRC checks after an unclean stop).
extension PartitionLog {
    /// Catches up with the writer; a failure is logged and the segments already mapped stay.
    func catchUp() {
        do throws(ReservoirError) { try catchUp(throwing: true) } catch {
            logger.warning("following the writer failed; reading what was mapped before", metadata: ["error": "\(error)"])
        }
    }

    /// Catches up with the writer: the new ends, and the segments again when they changed.
    func catchUp(throwing: Bool) throws(ReservoirError) {
        guard let follower else { return }
        try follower.view.withLock { (view) throws(ReservoirError) in
            let instance = follower.live?.instance ?? 0
            if view.loaded && instance == view.instance {
                guard let slot = view.slot, let values = slot.read() else { return }
                if values.layout == view.layout {
                    apply(values, active: view.active, follower: follower)
                } else if values.layout & 1 == 0, let active = try relist(values, slot: slot, view: view) {
                    view.layout = values.layout
                    view.active = active
                }
                return
            }
            // A new writer session, or none: start over from the directory.
            if instance != 0, let live = follower.live, live.writerIsLive {
                // The writer may still be opening: until it publishes this partition, the files
                // are read as they are, and the next catch-up looks again.
                guard let slot = live.findSlot(for: follower.partition), let values = slot.read(), values.layout & 1 == 0,
                    values.layout > 0, let active = try relist(values, slot: slot, view: LogFollower.View())
                else {
                    if !view.loaded {
                        try loadAsTheyAre()
                        view = LogFollower.View(instance: 0, slot: nil, layout: -1, active: nil, loaded: true)
                    }
                    return
                }
                view = LogFollower.View(instance: instance, slot: slot, layout: values.layout, active: active, loaded: true)
            } else {
                try loadAsTheyAre()
                view = LogFollower.View(instance: instance, slot: nil, layout: -1, active: nil, loaded: true)
            }
        }
    }

    /// Takes the writer's published ends and the active segment's reach.
    private func apply(_ values: LiveSlot.Values, active: Segment?, follower: LogFollower) {
        state.withLock { state in
            if let active, active.baseOffset == values.activeBase, state.segments.last === active {
                active.follow(
                    bytes: Int(clamping: max(0, values.activeBytes)), nextOffset: max(active.baseOffset, values.writtenEnd),
                    indexEntries: Int(clamping: values.activeIndexEntries), timeIndexEntries: Int(clamping: values.activeTimeIndexEntries))
            }
            state.logStartOffset = values.logStart
        }
        follower.durableEnd.store(Int(values.durableEnd))
        // What is durable stands for the recovery point: what compaction would consider.
        recoveryPointValue.store(Int(min(values.durableEnd, values.writtenEnd)))
        let visible = follower.visibility == .durable ? min(values.durableEnd, values.writtenEnd) : values.writtenEnd
        end.store(Int(visible))
    }

    /// Reads the segment list from the directory for the layout `values` describe: segments
    /// already mapped whose file is the same stay, others are mapped. Returns the active segment,
    /// or nil when the directory does not match `values` yet (a change under way: try later).
    private func relist(_ values: LiveSlot.Values, slot: LiveSlot, view: LogFollower.View) throws(ReservoirError) -> Segment? {
        guard let follower else { return nil }
        let bases = try SegmentFiles.logBaseOffsets(in: directory).filter { $0 <= values.activeBase }
        guard bases.last == values.activeBase else { return nil }
        let config = state.withLock { $0.config }
        let mapped = state.withLock { state in
            Dictionary(state.segments.map { ($0.baseOffset, $0) }, uniquingKeysWith: { _, later in later })
        }
        var segments: [Segment] = []
        var damagedAt: [Int64: (position: Int, reason: String)] = [:]
        for base in bases {
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let isActive = base == values.activeBase
            guard let identity = FileIdentity.of(files.log) else { return nil }
            if let old = mapped[base], let region = old.region, region.identity == identity,
                isActive ? old === view.active && old.capacity >= Int(values.activeBytes) : old !== view.active
            {
                segments.append(old)
                if !isActive, let stop = old.readingStop { damagedAt[base] = stop }
                continue
            }
            let segment: Segment
            do throws(ReservoirError) {
                segment = try Segment(
                    readingFiles: files, capacity: isActive ? max(config.segmentBytes, Int(clamping: values.activeBytes)) : 0)
            } catch {
                // Removed or replaced meanwhile: the layout moved on; the next catch-up sees it.
                if error.errno == ENOENT { return nil }
                throw error
            }
            if !isActive, let reason = segment.loadForReading(verify: false) {
                logger.warning("damaged segment", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
            }
            if !isActive, let stop = segment.readingStop { damagedAt[base] = stop }
            segments.append(segment)
        }
        // The list counts only if no change started while it was read.
        guard let again = slot.read(), again.layout == values.layout, let active = segments.last else { return nil }
        // The writer kept these segments as they are: what does not scan is damage, as it is for the writer.
        let damage = LogLoader.findDamage(Array(segments.dropLast()), damagedAt: damagedAt, logStartOffset: nil, recoveryPoint: nil)
        follower.damage.withLock { $0 = damage }
        state.withLock { $0.segments = segments }
        apply(again, active: active, follower: follower)
        return active
    }

    /// Maps every segment as it is on disk, with no writer to follow, and finds its damage as the
    /// writer's open would: bytes that do not scan, or offsets no segment holds, are damage that
    /// reads fail on, except for a tail never acknowledged as durable after an unclean stop (the
    /// next writer cuts it), where this view of the log ends.
    private func loadAsTheyAre() throws(ReservoirError) {
        guard let follower else { return }
        let bases = try SegmentFiles.logBaseOffsets(in: directory)
        let clean = follower.closedCleanly()
        let recoveryPoint = follower.checkpointedRecoveryPoint()
        let logStart = follower.checkpointedLogStart()
        var segments: [Segment] = []
        var damagedAt: [Int64: (position: Int, reason: String)] = [:]
        for (index, base) in bases.enumerated() {
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let segment = try Segment(readingFiles: files, capacity: 0)
            let isLast = index == bases.count - 1
            // After an unclean stop, batches that may not have reached the disk whole are checked.
            let nextBase = isLast ? nil : bases[index + 1]
            let unsynced = !clean && (nextBase.map { next in recoveryPoint.map { next > $0 } ?? false } ?? true)
            if let previous = segments.last,
                base > previous.nextOffset
                    && LogLoader.isUnsyncedGap(at: previous.nextOffset, cleanShutdown: clean, recoveryPoint: recoveryPoint)
            {
                break  // a roll reached the disk before the previous segment's end: the log ends at the gap
            }
            if let reason = segment.loadForReading(verify: unsynced) {
                segments.append(segment)
                if LogLoader.isUnsyncedTail(
                    at: segment.nextOffset, cleanShutdown: clean, recoveryPoint: recoveryPoint, inLastSegment: isLast)
                {
                    break
                }
                logger.warning("damaged segment", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
                damagedAt[base] = (segment.readingStop?.position ?? segment.publishedSize, reason)
                continue
            }
            segments.append(segment)
        }
        follower.damage.withLock {
            $0 = LogLoader.findDamage(segments, damagedAt: damagedAt, logStartOffset: logStart, recoveryPoint: recoveryPoint)
        }
        if segments.isEmpty {
            let start = follower.checkpointedLogStart() ?? 0
            state.withLock { state in
                state.segments = []
                state.logStartOffset = start
            }
            follower.durableEnd.store(Int(start))
            recoveryPointValue.store(Int(start))
            end.store(Int(start))
            return
        }
        let next = segments.last?.nextOffset ?? 0
        let start = max(follower.checkpointedLogStart() ?? 0, segments.first?.baseOffset ?? 0)
        state.withLock { state in
            state.segments = segments
            state.logStartOffset = min(start, next)
        }
        follower.durableEnd.store(Int(next))
        recoveryPointValue.store(Int(next))
        end.store(Int(next))
    }
}
