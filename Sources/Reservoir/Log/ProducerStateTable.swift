/// The idempotent producers of one partition, as Kafka's `ProducerStateManager` keeps them: per
/// producer id its epoch and its last five batches' sequence ranges and offsets, so that a batch
/// sent again (a retry after a lost answer) is recognised and answered with its original offsets
/// instead of being written twice, and a batch that skips sequences is refused.
///
/// The table is touched under its log's lock, in append order. It is saved in Kafka's producer
/// snapshot format (``ProducerSnapshot``) when a segment rolls and when the log closes, and rebuilt
/// from the batches after the newest snapshot when the log opens.
struct ProducerStateTable {
    /// A producer's batches are remembered this many at a time (Kafka's
    /// `max.in.flight.requests.per.connection` limit for idempotence).
    static let cachedBatches = 5

    /// One appended batch of a producer.
    struct Batch: Hashable {
        var firstSequence: Int32
        var lastSequence: Int32
        var lastOffset: Int64
        var offsetDelta: Int32
        var maxTimestamp: Int64
        var firstOffset: Int64 { lastOffset - Int64(offsetDelta) }
    }

    struct Entry: Hashable {
        var epoch: Int16
        /// Oldest first, at most ``ProducerStateTable/cachedBatches``.
        var batches: [Batch]
        var lastTimestamp: Int64 { batches.last?.maxTimestamp ?? -1 }
    }

    /// What to do with a producer's batch.
    enum Check: Equatable {
        /// New: append it.
        case append
        /// Appended before, at these offsets: answer with them, write nothing.
        case duplicate(ClosedRange<Int64>)
    }

    private(set) var entries: [Int64: Entry] = [:]

    /// The last sequence of a batch that starts at `first` and spans `delta` more: sequences wrap
    /// from `Int32.max` to 0, as Kafka's do.
    /// A negative `delta` counts back (a batch's first sequence from its last).
    static func lastSequence(first: Int32, delta: Int32) -> Int32 {
        let range = Int64(Int32.max) + 1
        return Int32(truncatingIfNeeded: ((Int64(first) + Int64(delta)) % range + range) % range)
    }

    /// Checks a batch of `producerId` against the producer's state (Kafka's sequence rules).
    ///
    /// - Throws: ``ReservoirError/Code/producerFenced`` for an epoch older than the producer's,
    ///   ``ReservoirError/Code/outOfOrderSequence`` for a sequence that does not follow the last,
    ///   ``ReservoirError/Code/unknownProducer`` for a producer this partition has no state for
    ///   whose batch does not start at sequence 0.
    func check(producerId: Int64, epoch: Int16, firstSequence: Int32, offsetDelta: Int32) throws(ReservoirError) -> Check {
        let last = Self.lastSequence(first: firstSequence, delta: offsetDelta)
        guard let entry = entries[producerId] else {
            guard firstSequence == 0 else {
                throw ReservoirError(
                    .unknownProducer,
                    "producer \(producerId) has no state in this partition and its batch starts at sequence \(firstSequence)")
            }
            return .append
        }
        if epoch < entry.epoch {
            throw ReservoirError(.producerFenced, "producer \(producerId) epoch \(epoch) is older than its current epoch \(entry.epoch)")
        }
        if epoch > entry.epoch {
            guard firstSequence == 0 else {
                throw ReservoirError(
                    .outOfOrderSequence, "producer \(producerId)'s new epoch \(epoch) starts at sequence \(firstSequence), not 0")
            }
            return .append
        }
        if let earlier = entry.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == last }) {
            return .duplicate(earlier.firstOffset...earlier.lastOffset)
        }
        if let newest = entry.batches.last {
            let expected = Self.lastSequence(first: newest.lastSequence, delta: 1)
            guard firstSequence == expected else {
                throw ReservoirError(
                    .outOfOrderSequence,
                    "producer \(producerId) sent sequence \(firstSequence) after \(newest.lastSequence) (expected \(expected))")
            }
        }
        return .append
    }

    /// Records a batch appended at `lastOffset`.
    /// The last offset of each producer's newest batch: the batches compaction keeps, so that
    /// the producers' state can be rebuilt from the log alone.
    var lastOffsets: [Int64: Int64] {
        var offsets: [Int64: Int64] = [:]
        for (producerId, entry) in entries {
            if let newest = entry.batches.last { offsets[producerId] = newest.lastOffset }
        }
        return offsets
    }

    mutating func update(producerId: Int64, epoch: Int16, firstSequence: Int32, offsetDelta: Int32, lastOffset: Int64, maxTimestamp: Int64)
    {
        var entry = entries[producerId] ?? Entry(epoch: epoch, batches: [])
        if epoch != entry.epoch {
            entry = Entry(epoch: epoch, batches: [])
        }
        entry.batches.append(
            Batch(
                firstSequence: firstSequence, lastSequence: Self.lastSequence(first: firstSequence, delta: offsetDelta),
                lastOffset: lastOffset, offsetDelta: offsetDelta, maxTimestamp: maxTimestamp))
        if entry.batches.count > Self.cachedBatches { entry.batches.removeFirst(entry.batches.count - Self.cachedBatches) }
        entries[producerId] = entry
    }

    /// Records a batch read back from the log (rebuilding the table).
    mutating func replay(_ header: RecordBatchHeader) {
        // Transaction markers (in a Kafka broker's files) carry a producer id but no sequence.
        guard header.producerId >= 0, !header.isControl, header.baseSequence >= 0 else { return }
        update(
            producerId: header.producerId, epoch: header.producerEpoch, firstSequence: header.baseSequence,
            offsetDelta: header.lastOffsetDelta, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp)
    }

    /// Forgets producers whose last batch is older than `cutoff` (ms since the epoch): Kafka's
    /// `producer.id.expiration.ms`.
    mutating func expire(before cutoff: Int64) {
        entries = entries.filter { $0.value.lastTimestamp >= cutoff }
    }

    /// Sets an entry as a snapshot holds it (its last batch only).
    mutating func restore(producerId: Int64, entry: Entry) {
        entries[producerId] = entry
    }
}
