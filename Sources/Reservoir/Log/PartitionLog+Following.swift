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
        for base in bases {
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let isActive = base == values.activeBase
            guard let identity = FileIdentity.of(files.log) else { return nil }
            if let old = mapped[base], let region = old.region, region.identity == identity,
                isActive ? old === view.active && old.capacity >= Int(values.activeBytes) : old !== view.active
            {
                segments.append(old)
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
                logger.warning("segment does not scan to its end", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
            }
            segments.append(segment)
        }
        // The list counts only if no change started while it was read.
        guard let again = slot.read(), again.layout == values.layout, let active = segments.last else { return nil }
        state.withLock { $0.segments = segments }
        apply(again, active: active, follower: follower)
        return active
    }

    /// Maps every segment as it is on disk, with no writer to follow.
    private func loadAsTheyAre() throws(ReservoirError) {
        guard let follower else { return }
        let bases = try SegmentFiles.logBaseOffsets(in: directory)
        // After an unclean stop, the last segment's tail may be torn: every batch is checked.
        let clean = follower.closedCleanly()
        var segments: [Segment] = []
        for (index, base) in bases.enumerated() {
            let files = SegmentFiles(directory: directory, baseOffset: base)
            let segment = try Segment(readingFiles: files, capacity: 0)
            if let reason = segment.loadForReading(verify: !clean && index == bases.count - 1) {
                logger.warning("segment does not scan to its end", metadata: ["segment": "\(files.log)", "reason": "\(reason)"])
            }
            segments.append(segment)
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
