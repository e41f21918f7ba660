/// Whole batches read from a partition, without copying: they point into the segment mapping.
public struct LogReadResult: Sendable {
    /// The batches, in offset order. The first may start before the requested offset (records
    /// below it are part of the same batch); `records()` skips those.
    public var batches: [RecordBatch]
    /// The offset the requested read started at.
    public var requestedOffset: Int64
    /// Where the next read should start: the offset after the last returned batch.
    public var nextOffset: Int64
    /// The log's end offset (of the isolation level read) when this result was made.
    public var endOffset: Int64
    /// The log's start offset when this result was made.
    public var startOffset: Int64

    /// Total bytes of the returned batches.
    public var byteCount: Int { batches.reduce(0) { $0 + $1.byteCount } }
    public var isEmpty: Bool { batches.isEmpty }

    /// The batches as one range of their segment file, opened again for reading, for a caller
    /// that sends them with sendfile(2) rather than copying them out of the mapping.
    ///
    /// Nil when there are no batches, or when the segment file at its path is no longer the one
    /// read (retention or compaction removed or replaced it since; the batches stay readable in
    /// memory through ``batches``), or cannot be opened (no descriptors left).
    public func openSegmentFile() -> SegmentFileRange? {
        guard let first = batches.first, let region = first.owner as? MappedRegion, let start = first.bytes.baseAddress else { return nil }
        var end = start + first.bytes.count
        for batch in batches.dropFirst() {
            // A read returns consecutive batches of one segment; anything else is not one range.
            guard batch.owner === region, batch.bytes.baseAddress == end else { return nil }
            end += batch.bytes.count
        }
        let position = start - UnsafeRawPointer(region.base)
        guard position >= 0, end - UnsafeRawPointer(region.base) <= region.length, let descriptor = region.openMappedFile() else {
            return nil
        }
        return SegmentFileRange(descriptor: descriptor, position: position, count: end - start)
    }

    /// Decodes every record at or after ``requestedOffset``.
    public func records(decoder: RecordDecoder = RecordDecoder()) throws -> [LogRecord] {
        var result: [LogRecord] = []
        try decoder.forEachRecord(in: batches) { record in
            if record.offset >= requestedOffset { result.append(record.logRecord) }
        }
        return result
    }
}
