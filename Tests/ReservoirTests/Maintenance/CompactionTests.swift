import Foundation
import Synchronization
import Testing
@testable import Reservoir

@Suite("Compaction: latest value per key, tombstones, lags, codecs")
struct CompactionTests {
    private func compacted(_ extra: (inout TopicConfig) -> Void = { _ in }) -> TopicConfig {
        var config = TopicConfig(
            segmentBytes: 4096, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096,
            cleanup: .compact, fileDeleteDelayMs: 0)
        extra(&config)
        return config
    }

    /// `count` records over `keys` keys: key `k-(i % keys)`, value `v-i`.
    private func keyed(_ range: Range<Int>, keys: Int, timestamp: Int64? = nil) -> [Record] {
        range.map { Record(key: Array("k-\($0 % keys)".utf8), value: Array("v-\($0)".utf8), timestamp: timestamp) }
    }

    private func append(_ store: Reservoir, _ records: [Record], topic: String = "t") throws {
        for start in stride(from: 0, to: records.count, by: 10) {
            try store.append(to: topic, records: Array(records[start..<min(start + 10, records.count)]), acks: .buffered)
        }
    }

    @Test("only the latest value per key survives, at its original offset; reads cross the gaps")
    func latestPerKey() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted())
        try append(store, keyed(0..<1000, keys: 50))
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        let activeBase = try #require(log.segments.last).baseOffset
        let report = try store.maintain()
        let entry = try #require(report.partitions.first)
        #expect(entry.compacted)
        #expect(entry.dirtyRatio == 1.0)
        let expected = compactedOracle(before, activeBase: activeBase)
        #expect(entry.recordsCompacted == before.count - expected.count)
        let after = try allRecords(log)
        #expect(after == expected)
        #expect(log.endOffset == 1000)
        #expect(log.segments.count < 10)
        // Every offset reads: one in a gap reads from the next surviving record.
        for offset in stride(from: Int64(0), to: 1000, by: 37) {
            var result = try log.read(from: offset, maxBytes: 1)
            // A batch emptied by compaction reads as no records; the reader moves on past it.
            while try result.records().isEmpty && result.nextOffset < log.endOffset {
                result = try log.read(from: result.nextOffset, maxBytes: 1)
            }
            #expect(try result.records().first == expected.first { $0.offset >= offset })
        }
        // Nothing dirty is left: the next pass does nothing.
        #expect(try store.maintain().partitions.isEmpty)
        #expect(try store.status(of: "t").first?.dirtyRatio == 0)
        // The cleaned log survives reopen unchanged and passes verification.
        try store.close()
        let reopened = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? reopened.close() }
        #expect(try allRecords(reopened.log(topic: "t", partition: 0)) == expected)
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("tombstones remove their key and go once deleteRetentionMs has passed")
    func tombstones() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted { $0.deleteRetentionMs = 60_000 })
        try append(store, keyed(0..<200, keys: 20))
        let deletes = (0..<5).map { Record(key: Array("k-\($0)".utf8), value: nil) }
        try store.append(to: "t", records: deletes, acks: .buffered)
        try append(store, keyed(1000..<1200, keys: 1000).map { Record(key: Array("other-\($0.value!)".utf8), value: $0.value) })
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let now = wallClockMilliseconds()
        try store.maintain(ignoringDirtyRatio: true, now: now)
        var left = try allRecords(log).filter { $0.key.map { String(decoding: $0, as: UTF8.self).hasPrefix("k-") } ?? false }
        // Keys 0-4: only their tombstone; keys 5-19: their latest value.
        #expect(left.filter { $0.value == nil }.map(\.key) == (0..<5).map { Array("k-\($0)".utf8) })
        #expect(left.filter { $0.value != nil }.count == 15)
        let tombstoneBatch = try #require(log.read(from: 200).batches.first)
        #expect(tombstoneBatch.header.hasDeleteHorizon)
        #expect(tombstoneBatch.header.baseTimestamp == now + 60_000)
        // Before the horizon the tombstones stay; after it a pass removes them.
        try store.maintain(ignoringDirtyRatio: true, now: now + 59_000)
        #expect(try allRecords(log).filter { $0.value == nil }.count == 5)
        let report = try store.maintain(ignoringDirtyRatio: true, now: now + 61_000)
        #expect(report.partitions.first?.recordsCompacted == 5)
        left = try allRecords(log).filter { $0.key.map { String(decoding: $0, as: UTF8.self).hasPrefix("k-") } ?? false }
        #expect(left.count == 15)
        #expect(left.allSatisfy { $0.value != nil })
    }

    @Test("compacted topics refuse records without a key, on every append path")
    func unkeyedRejected() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted())
        let mixed = [Record(key: Array("a".utf8), value: Array("1".utf8)), Record(key: nil, value: Array("2".utf8))]
        #expect(throws: ReservoirError.self) { try store.append(to: "t", records: mixed) }
        let builder = try store.makeBatchBuilder(for: "t")
        try builder.append(key: nil, value: Array("x".utf8))
        #expect(throws: ReservoirError.self) { try store.append(to: "t", batch: builder) }
        await #expect(throws: ReservoirError.self) { try await store.append(to: "t", key: nil, value: "x") }
        #expect(try store.log(topic: "t", partition: 0).endOffset == 0)
    }

    @Test("a key map smaller than the dirty section converges over several passes")
    func smallMapConverges() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        var options = onDemandMaintenance
        options.cleanerMapBytes = 1 << 16  // about 2,000 keys
        let store = try Reservoir.open(at: dir, options: options)
        defer { try? store.close() }
        try store.createTopic(
            "t",
            config: compacted {
                $0.segmentBytes = 32 * 1024
                $0.maxBatchBytes = 32 * 1024
            })
        try append(store, keyed(0..<12_000, keys: 5_000))
        try append(store, keyed(0..<200, keys: 200).map { Record(key: Array("tail-\($0.value!)".utf8), value: $0.value) })
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        let activeBase = try #require(log.segments.last).baseOffset
        var passes = 0
        while try store.status(of: "t")[0].firstDirtyOffset < activeBase && passes < 20 {
            try store.maintain(ignoringDirtyRatio: true)
            passes += 1
        }
        #expect(passes > 1)
        #expect(try allRecords(log) == compactedOracle(before, activeBase: activeBase))
    }

    @Test("min compaction lag keeps young segments; max compaction lag forces a clean")
    func compactionLags() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        let hour: Int64 = 3_600_000
        let now = wallClockMilliseconds()
        try store.createTopic("t", config: compacted { $0.minCompactionLagMs = hour })
        try append(store, keyed(0..<300, keys: 10, timestamp: now - 2 * hour))
        try append(store, keyed(300..<600, keys: 10, timestamp: now))
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        // Only segments whose newest record is over an hour old are cleaned, against each other.
        let youngBase = try #require(log.segments.first { $0.maxTimestamp > now - hour }).baseOffset
        try store.maintain(now: now)
        #expect(try allRecords(log) == compactedOracle(before, activeBase: youngBase))

    }

    @Test("below the dirty ratio nothing is cleaned until the oldest dirty record passes maxCompactionLagMs")
    func maxCompactionLag() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted())
        let now = wallClockMilliseconds()
        try append(store, keyed(0..<600, keys: 600, timestamp: now))
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        try store.maintain(ignoringDirtyRatio: true, now: now)
        try append(store, keyed(600..<760, keys: 600, timestamp: now))
        try waitForRolledSegmentsDurable(log)
        let ratio = try #require(store.status(of: "t").first).dirtyRatio
        #expect(ratio > 0 && ratio < 0.5)
        #expect(try store.maintain(now: now + 10_000).partitions.isEmpty)
        try store.alterTopic("t", settings: [("max.compaction.lag.ms", "5000")])
        let before = try allRecords(log)
        let activeBase = try #require(log.segments.last).baseOffset
        let forced = try store.maintain(now: now + 10_000)
        #expect(forced.partitions.first?.compacted == true)
        // Exactly the latest record of each key below the active segment, and everything after it.
        #expect(try allRecords(log) == compactedOracle(before, activeBase: activeBase))
        #expect(try store.topic("t").config.maxCompactionLagMs == 5000)
    }

    @Test("LZ4 topics stay LZ4 after cleaning; timestamps and headers survive")
    func lz4StaysLZ4() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted { $0.compression = .lz4 })
        let input = (0..<800).map {
            Record(
                key: Array("k-\($0 % 30)".utf8), value: Array(repeating: UInt8($0 % 251), count: 60),
                headers: [RecordHeader("n", "\($0)")], timestamp: 1_700_000_000_000 + Int64($0))
        }
        try append(store, input)
        let log = try store.log(topic: "t", partition: 0)
        try waitForRolledSegmentsDurable(log)
        let before = try allRecords(log)
        let activeBase = try #require(log.segments.last).baseOffset
        try store.maintain(ignoringDirtyRatio: true)
        let after = try allRecords(log)
        #expect(after == compactedOracle(before, activeBase: activeBase))
        var offset = log.startOffset
        while offset < log.endOffset {
            let result = try log.read(from: offset)
            for batch in result.batches where batch.recordCount > 0 { #expect(batch.header.compression == .lz4) }
            offset = result.nextOffset
        }
    }

    @Test("appends and reads go on while the cleaner runs")
    func concurrentAppendsAndReads() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("t", config: compacted { $0.segmentBytes = 16 * 1024 })
        try append(store, keyed(0..<1000, keys: 40))
        let log = try store.log(topic: "t", partition: 0)
        let stop = Atomic<Bool>(false)
        // Counted with an atomic (a Mutex here would be a different type in sanitizer builds).
        let failures = Atomic<Int>(0)
        let writer = Thread {
            var next = 1000
            // Bounded: on a slow machine (or under a sanitizer) an unbounded writer grows the log
            // faster than the passes below clean it, and every pass then takes longer.
            while !stop.load(ordering: .relaxed) && next < 40_000 {
                do { try store.append(to: "t", records: self.keyed(next..<next + 10, keys: 40), acks: .buffered) } catch {
                    failures.add(1, ordering: .relaxed)
                    print("append: \(error)")
                }
                next += 10
                usleep(100)
            }
        }
        let reader = Thread {
            while !stop.load(ordering: .relaxed) {
                do {
                    let all = try allRecords(log)
                    let offsets = all.map(\.offset)
                    if offsets != offsets.sorted() || Set(offsets).count != offsets.count {
                        failures.add(1, ordering: .relaxed)
                        print("offsets out of order")
                    }
                    // Every record is the one appended at its offset: key and value, untorn.
                    if let wrong = all.first(where: {
                        $0.key != Array("k-\($0.offset % 40)".utf8) || $0.value != Array("v-\($0.offset)".utf8)
                    }) {
                        failures.add(1, ordering: .relaxed)
                        print("record at \(wrong.offset) is not the one appended there")
                    }
                } catch let error as ReservoirError where error.code == .offsetOutOfRange {
                    // The log start moved under the reader: fine.
                } catch {
                    failures.add(1, ordering: .relaxed)
                    print("read: \(error)")
                }
            }
        }
        writer.start()
        reader.start()
        var cleaned = 0
        for _ in 0..<8 {
            usleep(20_000)
            cleaned += try store.maintain(ignoringDirtyRatio: true).recordsRemovedByCompaction
        }
        #expect(cleaned > 0)
        stop.store(true, ordering: .relaxed)
        while writer.isExecuting || reader.isExecuting { usleep(1000) }
        #expect(failures.load(ordering: .relaxed) == 0)
        // Every key still reads back with its latest value.
        var latest: [String: String] = [:]
        for record in try allRecords(log) {
            latest[String(decoding: record.key!, as: UTF8.self)] = String(decoding: record.value!, as: UTF8.self)
        }
        let end = Int(log.endOffset)
        for key in 0..<40 {
            let last = (0..<end).last { $0 % 40 == key }!
            #expect(latest["k-\(key)"] == "v-\(last)")
        }
    }
}
