import Logging

/// Producer state: the snapshots written at rolls and the table rebuilt from them at open.
extension PartitionLog {

    /// Writes the producer snapshot for `offset` (when any producer is known, or an older snapshot
    /// would otherwise be read at the next open) and keeps the newest two.
    func saveProducers(_ producers: ProducerStateTable, at offset: Int64) throws(ReservoirError) {
        let existing = try ProducerSnapshot.offsets(in: directory)
        guard !producers.entries.isEmpty || !existing.isEmpty else { return }
        try FileSystem.writeAtomically(ProducerSnapshot.encode(producers), to: ProducerSnapshot.path(directory, offset: offset))
        // Older snapshots are derived data: the two newest are enough to open from.
        for stale in Set(existing + [offset]).sorted().dropLast(2) {
            try FileSystem.remove(ProducerSnapshot.path(directory, offset: stale))
        }
    }

    /// The producers after every batch of `segments`: the newest readable snapshot at or below
    /// `end`, then the batches after it; when snapshots exist but none reads, every batch; with
    /// no snapshot at all, the batches from `scanFrom` (the store
    /// writes a snapshot whenever a segment with producers rolls and at close, so what lies
    /// below holds none it has not saved). Snapshots past `end` describe offsets recovery cut off
    /// and are removed.
    static func loadProducers(
        directory: String, segments: [Segment], end: Int64, scanFrom: Int64, expiresBefore cutoff: Int64, logger: Logger
    ) throws(ReservoirError) -> ProducerStateTable {
        let offsets = try ProducerSnapshot.offsets(in: directory)
        for offset in offsets where offset > end { try FileSystem.remove(ProducerSnapshot.path(directory, offset: offset)) }
        var table = ProducerStateTable()
        let usable = offsets.filter { $0 <= end }
        // Snapshots were written, so producers were here: if none can be read, every batch is
        // replayed rather than trusting that none lies below `scanFrom`.
        var from = offsets.isEmpty ? scanFrom : (segments.first?.baseOffset ?? scanFrom)
        for offset in usable.reversed() {
            let path = ProducerSnapshot.path(directory, offset: offset)
            let bytes: [UInt8]
            do throws(ReservoirError) {
                bytes = try FileHandle.open(path, writable: false).readAll()
            } catch {
                logger.warning(
                    "producer snapshot unreadable; using an older one or the log", metadata: ["file": "\(path)", "error": "\(error)"])
                continue
            }
            guard let loaded = ProducerSnapshot.decode(bytes) else {
                logger.warning("producer snapshot fails its checks; using an older one or the log", metadata: ["file": "\(path)"])
                continue
            }
            table = loaded
            from = offset
            break
        }
        for segment in segments where segment.nextOffset > from {
            try segment.forEachBatch(from: from) { batch in
                if batch.baseOffset >= from { table.replay(batch.header) }
                return true
            }
        }
        table.expire(before: cutoff)
        return table
    }
}
