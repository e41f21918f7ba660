/// Whole batches read from a partition, without copying: they point into the segment mapping.
public struct LogReadResult: Sendable {
    /// The batches, in offset order. The first may start before the requested offset (records
    /// below it are part of the same batch); ``records(from:)`` skips those.
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

    /// Decodes every record at or after ``requestedOffset``.
    public func records(decoder: RecordDecoder = RecordDecoder()) throws -> [LogRecord] {
        var result: [LogRecord] = []
        for batch in batches {
            try decoder.forEachRecord(in: batch) { record in
                if record.offset >= requestedOffset { result.append(record.logRecord) }
            }
        }
        return result
    }
}
