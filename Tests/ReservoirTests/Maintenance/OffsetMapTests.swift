import Testing
@testable import Reservoir

/// The compaction key map: latest offset per key digest, growth, and the memory limit.
@Suite("Compaction key map")
struct OffsetMapTests {
    static func digest(_ key: String) -> KeyDigest {
        Array(key.utf8).withUnsafeBytes { KeyDigest($0) }
    }

    @Test("put keeps the largest offset per key; get finds it; unknown keys are nil")
    func latestOffset() {
        let map = OffsetMap(memoryBytes: 1 << 20, expectedKeys: 10)
        #expect(map.put(Self.digest("a"), offset: 5))
        #expect(map.put(Self.digest("b"), offset: 6))
        #expect(map.put(Self.digest("a"), offset: 9))
        #expect(map.get(Self.digest("a")) == 9)
        #expect(map.get(Self.digest("b")) == 6)
        #expect(map.get(Self.digest("c")) == nil)
        #expect(map.count == 2)
        // Offset 0 is a real offset, not an empty slot.
        #expect(map.put(Self.digest("zero"), offset: 0))
        #expect(map.get(Self.digest("zero")) == 0)
    }

    @Test("the table grows as keys arrive, up to its memory, then reports full and takes no more keys")
    func growthAndLimit() {
        let map = OffsetMap(memoryBytes: 64 * OffsetMap.slotBytes, expectedKeys: 1)
        #expect(map.slotCount == 16)
        var stored = 0
        for n in 0..<100 where map.put(Self.digest("key-\(n)"), offset: Int64(n)) { stored += 1 }
        #expect(map.slotCount == 64)
        #expect(stored == Int(Double(64) * OffsetMap.loadFactor))
        #expect(map.isFull)
        // Keys already in take new offsets even when full.
        #expect(map.put(Self.digest("key-0"), offset: 500))
        #expect(map.get(Self.digest("key-0")) == 500)
        for n in 1..<stored { #expect(map.get(Self.digest("key-\(n)")) == Int64(n)) }
    }
}
