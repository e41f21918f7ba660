/// Reading: batches by offset and by time, read through the mapping below the published size.
extension Segment {
    /// The whole batches starting with the first whose last offset is ≥ `offset`, up to `maxBytes`
    /// (always at least one batch). Returns nil when no published batch reaches `offset`.
    func read(from offset: Int64, maxBytes: Int) throws(ReservoirError) -> [RecordBatch]? {
        guard let region else { return nil }
        var scanner = BatchScanner(region.bytes(from: 0, count: publishedSize), from: offsetIndex.lookup(offset).position)
        var batches: [RecordBatch] = []
        var total = 0
        while let entry = scanner.next() {
            let header = entry.header
            guard header.lastOffset >= offset else { continue }
            if !batches.isEmpty && total + header.totalSize > maxBytes { break }
            batches.append(RecordBatch(owner: region, bytes: region.bytes(from: entry.position, count: header.totalSize), header: header))
            total += header.totalSize
            if total >= maxBytes { break }
        }
        if batches.isEmpty, let failure = scanner.failure {
            throw failure.reservoirError(context: "\(files.log) at byte \(scanner.position)")
        }
        return batches.isEmpty ? nil : batches
    }

    /// The first record with timestamp ≥ `timestamp` and offset ≥ `startingOffset`, as
    /// `(offset, timestamp)`; nil when this segment has none.
    func findOffset(byTimestamp timestamp: Int64, startingOffset: Int64, decoder: RecordDecoder) throws(ReservoirError) -> (
        offset: Int64, timestamp: Int64
    )? {
        guard let region else { return nil }
        let entry = timeIndex.lookup(timestamp)
        var scanner = BatchScanner(
            region.bytes(from: 0, count: publishedSize), from: offsetIndex.lookup(max(entry.offset, startingOffset)).position)
        while let scanned = scanner.next() {
            let (position, header) = (scanned.position, scanned.header)
            if header.maxTimestamp >= timestamp && header.lastOffset >= startingOffset {
                let batch = RecordBatch(owner: region, bytes: region.bytes(from: position, count: header.totalSize), header: header)
                var found: (Int64, Int64)?
                do {
                    try decoder.iterate(batch, verifyCRC: false) { record in
                        if record.timestamp >= timestamp && record.offset >= startingOffset {
                            found = (record.offset, record.timestamp)
                            return false
                        }
                        return true
                    }
                } catch {
                    throw error.reservoirError(context: "\(files.log) at byte \(position)")
                }
                if let found { return found }
            }
        }
        if let failure = scanner.failure { throw failure.reservoirError(context: "\(files.log) at byte \(scanner.position)") }
        return nil
    }

    /// Calls `body` with each published batch whose last offset is ≥ `offset`, in order, until
    /// it returns false. Batches are checked for bounds and magic (not CRC) on the way.
    func forEachBatch(from offset: Int64, _ body: (RecordBatch) throws(ReservoirError) -> Bool) throws(ReservoirError) {
        guard let region else { return }
        var scanner = BatchScanner(
            region.bytes(from: 0, count: publishedSize), from: offset > baseOffset ? offsetIndex.lookup(offset).position : 0)
        while let entry = scanner.next() {
            guard entry.header.lastOffset >= offset else { continue }
            let batch = RecordBatch(
                owner: region, bytes: region.bytes(from: entry.position, count: entry.header.totalSize), header: entry.header)
            if try !body(batch) { return }
        }
        if let failure = scanner.failure { throw failure.reservoirError(context: "\(files.log) at byte \(scanner.position)") }
    }

    /// The largest timestamp of the first batch, or nil for an empty segment.
    var firstBatchTimestamp: Int64? {
        guard let region, publishedSize >= RecordBatchHeader.size else { return nil }
        return (try? RecordBatchHeader.read(from: UnsafeRawBufferPointer(start: region.base, count: publishedSize)))?.maxTimestamp
    }

    /// Records in the segment, counted from the batch headers.
    func recordCount() -> Int {
        guard let region else { return 0 }
        var scanner = BatchScanner(region.bytes(from: 0, count: publishedSize))
        var count = 0
        while let entry = scanner.next() { count += Int(entry.header.recordCount) }
        return count
    }
}
