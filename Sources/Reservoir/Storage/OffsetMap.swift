#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The compaction key map: for each key digest, the largest offset seen with that key, in a
/// fixed block of memory (Kafka's `SkimpyOffsetMap`).
///
/// Open addressing with linear probing over 24-byte slots (16-byte digest, 8-byte offset + 1,
/// where 0 marks an empty slot). The map never grows: ``isFull`` tells the cleaner to stop
/// indexing and clean the prefix it has, so a map smaller than the dirty section still makes
/// progress, one pass at a time.
final class OffsetMap {
    static let slotBytes = 24
    /// Fill at most this share of the slots, so that probe sequences stay short.
    static let loadFactor = 0.75

    // Invariant: `slots` points to `slotCount * 24` bytes, allocated and zeroed in init, freed in deinit.
    private let slots: UnsafeMutableRawPointer
    let slotCount: Int
    /// Keys the map accepts before it is full.
    let capacity: Int
    private(set) var count = 0
    /// The largest offset put since the last ``clear()``, or -1.
    private(set) var latestOffset: Int64 = -1

    /// A map in at most `memoryBytes` bytes, with room for `expectedKeys` keys when that fits.
    init(memoryBytes: Int, expectedKeys: Int) {
        let most = max(16, memoryBytes / Self.slotBytes)
        let wanted = max(16, Int(Double(max(1, expectedKeys)) / Self.loadFactor) + 1)
        slotCount = min(most, wanted)
        capacity = max(1, Int(Double(slotCount) * Self.loadFactor))
        guard let memory = calloc(slotCount, Self.slotBytes) else {
            fatalError("out of memory allocating a compaction map of \(slotCount * Self.slotBytes) bytes")
        }
        slots = memory
    }

    deinit { free(slots) }

    var isFull: Bool { count >= capacity }

    /// Empties the map.
    func clear() {
        memset(slots, 0, slotCount * Self.slotBytes)
        count = 0
        latestOffset = -1
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
                guard count < capacity else { return false }
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
        latestOffset = max(latestOffset, offset)
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
