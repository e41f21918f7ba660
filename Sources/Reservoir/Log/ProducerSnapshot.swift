/// A partition's producer state saved next to its segments, in Kafka's producer snapshot format:
/// `<offset>.snapshot` (twenty digits) holds the state after every batch below `offset`.
///
/// Layout (version 1, big-endian): int16 version, uint32 CRC32C of everything after it, int32
/// entry count, then per producer: int64 producer id, int16 epoch, int32 last sequence, int64
/// last offset, int32 offset delta (last offset - first offset of its last batch), int64
/// timestamp (its last batch's largest), int32 coordinator epoch (-1), int64 first offset of an
/// open transaction (-1). Only a producer's last batch is kept, as Kafka keeps it.
enum ProducerSnapshot {
    static let suffix = ".snapshot"
    static let version: Int16 = 1

    /// The snapshot file for `offset` in `directory`.
    static func path(_ directory: String, offset: Int64) -> String {
        let digits = String(offset)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// The offsets of the snapshot files in `directory`, ascending.
    static func offsets(in directory: String) throws(ReservoirError) -> [Int64] {
        try FileSystem.list(directory).compactMap { name -> Int64? in
            guard name.hasSuffix(suffix), name.count == 20 + suffix.count else { return nil }
            return Int64(name.prefix(20))
        }.sorted()
    }

    static func encode(_ table: ProducerStateTable) -> [UInt8] {
        var entries = BigEndianWriter()
        let producers = table.entries.sorted { $0.key < $1.key }
        entries.append(Int32(producers.count))
        for (producerId, entry) in producers {
            let last = entry.batches.last
            entries.append(producerId)
            entries.append(entry.epoch)
            entries.append(last?.lastSequence ?? -1)
            entries.append(last?.lastOffset ?? -1)
            entries.append(last?.offsetDelta ?? 0)
            entries.append(entry.lastTimestamp)
            entries.append(Int32(-1))
            entries.append(Int64(-1))
        }
        var file = BigEndianWriter()
        file.append(version)
        file.append(CRC32C.checksum(entries.bytes))
        return file.bytes + entries.bytes
    }

    /// The table a snapshot holds, or nil when the bytes are not a valid snapshot (wrong version,
    /// CRC mismatch, truncated): the caller then rebuilds the state from the log.
    static func decode(_ bytes: [UInt8]) -> ProducerStateTable? {
        var reader = BigEndianReader(bytes)
        guard reader.int16() == version, let crc = reader.integer(UInt32.self), bytes.count >= 6,
            CRC32C.checksum(Array(bytes[6...])) == crc, let count = reader.int32(), count >= 0
        else { return nil }
        var table = ProducerStateTable()
        for _ in 0..<count {
            guard let producerId = reader.int64(), let epoch = reader.int16(), let lastSequence = reader.int32(),
                let lastOffset = reader.int64(), let offsetDelta = reader.int32(), let timestamp = reader.int64(),
                reader.int32() != nil, reader.int64() != nil, offsetDelta >= 0
            else { return nil }
            var entry = ProducerStateTable.Entry(epoch: epoch, batches: [])
            if lastOffset >= 0 {
                let first = ProducerStateTable.lastSequence(first: lastSequence, delta: -offsetDelta)
                entry.batches = [
                    ProducerStateTable.Batch(
                        firstSequence: first, lastSequence: lastSequence, lastOffset: lastOffset, offsetDelta: offsetDelta,
                        maxTimestamp: timestamp)
                ]
            }
            table.restore(producerId: producerId, entry: entry)
        }
        guard reader.integer(UInt8.self) == nil else { return nil }
        return table
    }
}
