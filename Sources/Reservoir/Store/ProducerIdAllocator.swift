import Synchronization

/// Hands out idempotent producer ids that are never given twice, across restarts too: ids are
/// reserved a block at a time by writing the end of the block to the store's `producer-id-block`
/// file durably before any id in it is given (as Kafka's controller reserves blocks), so a crash
/// skips the rest of a block and never repeats one.
final class ProducerIdAllocator: Sendable {
    static let blockSize: Int64 = 1000

    private let path: String
    /// The next id to give and the end of the reserved block; nil until the file is read.
    private let range = Mutex<(next: Int64, limit: Int64)?>(nil)

    init(path: String) { self.path = path }

    func next() throws(ReservoirError) -> Int64 {
        try range.withLock { (range) throws(ReservoirError) -> Int64 in
            var current: (next: Int64, limit: Int64)
            if let range { current = range } else { current = try read() }
            if current.next >= current.limit {
                let (limit, overflow) = current.next.addingReportingOverflow(Self.blockSize)
                guard !overflow else { throw ReservoirError(.invalidArgument, "\(path): every producer id has been given") }
                try FileSystem.writeAtomically(Array("\(limit)\n".utf8), to: path)
                current.limit = limit
            }
            let id = current.next
            current.next += 1
            range = current
            return id
        }
    }

    /// The first id of the next block: every id below the stored block end may have been given.
    private func read() throws(ReservoirError) -> (next: Int64, limit: Int64) {
        guard FileSystem.exists(path) else { return (0, 0) }
        let text = String(decoding: try FileHandle.open(path, writable: false).readAll(), as: UTF8.self)
        guard let stored = Int64(text.split(separator: "\n").first ?? ""), stored >= 0, text.hasSuffix("\n") else {
            throw ReservoirError(
                .corruptData, "\(path) does not hold a producer id (\(text.prefix(40).debugDescription)): the ids given before are unknown")
        }
        return (stored, stored)
    }
}
