#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The compaction key map: for each key digest, the largest offset seen with that key, in a
/// fixed block of memory (Kafka's `SkimpyOffsetMap`).
///
/// Open addressing with linear probing over 24-byte slots (16-byte digest, 8-byte offset + 1,
/// where 0 marks an empty slot). The table starts small and doubles as keys arrive, up to the
/// memory limit: a log with few distinct keys gets a table that stays in cache (measured: a
/// table sized for the record count instead spent 16% of a pass in cache misses). At the limit
/// ``isFull`` tells the cleaner to stop indexing and clean the prefix it has, so a map smaller
/// than the dirty section still makes progress, one pass at a time.
final class OffsetMap {
    static let slotBytes = 24
    /// Fill at most this share of the slots, so that probe sequences stay short.
    static let loadFactor = 0.75

    // Invariant: `slots` points to `slotCount * 24` zeroed-or-written bytes, allocated with
    // calloc (in init and `grow`), freed in `grow` and deinit.
    private var slots: UnsafeMutableRawPointer
    private(set) var slotCount: Int
    /// The most slots the memory limit allows.
    let maximumSlots: Int
    /// Keys the table takes before it grows (or, at its largest, is full).
    private(set) var capacity: Int
    private(set) var count = 0

    /// A map in at most `memoryBytes` bytes. `expectedKeys` (an upper bound, such as the
    /// number of records to index) caps the starting size.
    init(memoryBytes: Int, expectedKeys: Int) {
        maximumSlots = max(16, memoryBytes / Self.slotBytes)
        let wanted = max(16, Int(Double(max(1, expectedKeys)) / Self.loadFactor) + 1)
        slotCount = min(maximumSlots, wanted, 1 << 14)
        capacity = max(1, Int(Double(slotCount) * Self.loadFactor))
        slots = Self.allocate(slotCount)
    }

    deinit { free(slots) }

    private static func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        guard let memory = calloc(count, slotBytes) else {
            fatalError("out of memory allocating a compaction map of \(count * slotBytes) bytes")
        }
        return memory
    }

    var isFull: Bool { count >= capacity && slotCount >= maximumSlots }

    /// Doubles the table (up to the limit) and re-inserts every entry.
    private func grow() {
        let old = slots
        let oldCount = slotCount
        slotCount = min(maximumSlots, slotCount * 2)
        capacity = max(1, Int(Double(slotCount) * Self.loadFactor))
        slots = Self.allocate(slotCount)
        for index in 0..<oldCount {
            // Safe: `index` < oldCount, inside the old allocation.
            let slot = old + index * Self.slotBytes
            let stored = slot.load(fromByteOffset: 16, as: Int64.self)
            guard stored != 0 else { continue }
            let high = slot.load(fromByteOffset: 0, as: UInt64.self)
            let target = emptySlot(for: high)
            target.copyMemory(from: slot, byteCount: Self.slotBytes)
        }
        free(old)
    }

    /// The first empty slot on `high`'s probe sequence (the table has one: it is never full).
    private func emptySlot(for high: UInt64) -> UnsafeMutableRawPointer {
        var index = Int(truncatingIfNeeded: high % UInt64(slotCount))
        while true {
            // Safe: `index` stays in 0..<slotCount.
            let slot = slots + index * Self.slotBytes
            if slot.load(fromByteOffset: 16, as: Int64.self) == 0 { return slot }
            index += 1
            if index == slotCount { index = 0 }
        }
    }

    /// Records `offset` for `digest`. Returns false, changing nothing, when the digest is new and
    /// the map is full.
    @discardableResult
    func put(_ digest: KeyDigest, offset: Int64) -> Bool {
        var index = Int(truncatingIfNeeded: digest.high % UInt64(slotCount))
        while true {
            // Safe: `index` stays in 0..<slotCount, so the slot lies inside the allocation.
            let slot = slots + index * Self.slotBytes
            let stored = slot.load(fromByteOffset: 16, as: Int64.self)
            if stored == 0 {
                if count >= capacity {
                    guard slotCount < maximumSlots else { return false }
                    grow()
                    return put(digest, offset: offset)
                }
                slot.storeBytes(of: digest.high, toByteOffset: 0, as: UInt64.self)
                slot.storeBytes(of: digest.low, toByteOffset: 8, as: UInt64.self)
                slot.storeBytes(of: offset + 1, toByteOffset: 16, as: Int64.self)
                count += 1
                break
            }
            if slot.load(fromByteOffset: 0, as: UInt64.self) == digest.high && slot.load(fromByteOffset: 8, as: UInt64.self) == digest.low {
                if offset + 1 > stored { slot.storeBytes(of: offset + 1, toByteOffset: 16, as: Int64.self) }
                break
            }
            index += 1
            if index == slotCount { index = 0 }
        }
        return true
    }

    /// The largest offset put for `digest`, or nil.
    func get(_ digest: KeyDigest) -> Int64? {
        var index = Int(truncatingIfNeeded: digest.high % UInt64(slotCount))
        while true {
            // Safe: as in `put`.
            let slot = slots + index * Self.slotBytes
            let stored = slot.load(fromByteOffset: 16, as: Int64.self)
            if stored == 0 { return nil }
            if slot.load(fromByteOffset: 0, as: UInt64.self) == digest.high && slot.load(fromByteOffset: 8, as: UInt64.self) == digest.low {
                return stored - 1
            }
            index += 1
            if index == slotCount { index = 0 }
        }
    }
}
