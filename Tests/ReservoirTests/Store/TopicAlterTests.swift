import CoreMetrics
import Foundation
import Logging
import MetricsTestKit
import Testing
@testable import Reservoir

/// swift-metrics is bootstrapped once per process; the tests that read it use topic names no
/// other test uses.
let testMetrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
}()

@Suite("Topic settings: alter, persist, grow partitions; maintenance metrics")
struct TopicAlterTests {
    @Test("settings change on a live topic, persist across reopen, and partitions only grow")
    func alterAndPersist() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
            try store.createTopic("t", config: TopicConfig(partitions: 1))
            try store.append(to: "t", records: records(0..<10), acks: .buffered)
            let config = try store.alterTopic(
                "t",
                settings: [
                    ("partitions", "3"), ("cleanup.policy", "compact,delete"), ("retentionMs", "-1"), ("segmentBytes", "8192"),
                    ("maxBatchBytes", "8192"), ("maxRecordBytes", "1024"),
                    ("compression", "lz4"), ("flush", "interval:100ms"), ("minCleanableDirtyRatio", "0.25"),
                ])
            #expect(config.partitions == 3)
            #expect(config.cleanup == [.compact, .delete])
            #expect(config.compression == .lz4)
            #expect(try store.log(topic: "t", partition: 0).config.segmentBytes == 8192)
            // New partitions take appends at once; keyed records land where murmur2 says.
            let ranges = try store.append(to: "t", records: records(10..<60), acks: .buffered)
            #expect(Set(ranges.map(\.partition)).count > 1)
            #expect(try store.log(topic: "t", partition: 0).endOffset > 10)
            #expect(throws: ReservoirError.self) { try store.alterTopic("t", settings: [("partitions", "2")]) }
            #expect(throws: ReservoirError.self) { try store.alterTopic("t", settings: [("retentionMs", "-5")]) }
            #expect(throws: ReservoirError.self) { try store.alterTopic("t", settings: [("nope", "1")]) }
            #expect(throws: ReservoirError.self) { try store.alterTopic("missing", settings: [("retentionMs", "1")]) }
            try store.close()
        }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        let config = try store.topic("t").config
        #expect(config.partitions == 3)
        #expect(config.cleanup == [.compact, .delete])
        #expect(config.retentionMs == -1)
        #expect(config.minCleanableDirtyRatio == 0.25)
        #expect(config.flushPolicy == .everyMilliseconds(100))
        #expect(try (0..<3).reduce(0) { $0 + Int(try store.log(topic: "t", partition: $1).endOffset) } == 60)
    }

    @Test("segments far apart in offsets are never merged into one cleaned segment")
    func groupingRespectsRelativeOffsets() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let encoder = try RecordBatchEncoder()
        // Three segments: two close together, one beyond the 32-bit relative range of the first.
        for base: Int64 in [0, 10, 3_000_000_000] {
            let bytes = try encoder.encodedBytes(records(0..<5), baseOffset: base, defaultTimestamp: 1_764_000_000_000)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + SegmentFiles.name(of: base) + ".log"))
        }
        // Opened as segments, not as a log: a log with offsets missing between its segments is
        // damaged, and compaction leaves a damaged log alone.
        let segments = try [Int64(0), 10].map { base in
            let segment = try Segment(
                files: SegmentFiles(directory: dir, baseOffset: base), active: false, capacity: 1 << 30,
                indexIntervalBytes: 4096, maxIndexBytes: 10 << 20, now: 0)
            _ = try segment.recover(expectedFirstOffset: base)
            return segment
        }
        #expect(segments.map(\.nextOffset) == [5, 15])
        let far = try Segment(
            files: SegmentFiles(directory: dir, baseOffset: 3_000_000_000), active: false, capacity: 1 << 30,
            indexIntervalBytes: 4096, maxIndexBytes: 10 << 20, now: 0)
        _ = try far.recover(expectedFirstOffset: 3_000_000_000)
        #expect(
            LogCleaner.group(segments + [far], segmentBytes: 1 << 30, maxIndexBytes: 10 << 20).map { $0.map(\.baseOffset) }
                == [[0, 10], [3_000_000_000]])
        let groups = LogCleaner.group(segments, segmentBytes: 1 << 30, maxIndexBytes: 10 << 20)
        #expect(groups.map { $0.map(\.baseOffset) } == [[0, 10]])
        // Size bounds groups too.
        let small = LogCleaner.group(segments, segmentBytes: segments[0].size, maxIndexBytes: 10 << 20)
        #expect(small.map { $0.map(\.baseOffset) } == [[0], [10]])
    }

    @Test("maintenance reports what it removed to swift-metrics")
    func metrics() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let metrics = testMetrics
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic(
            "metered",
            config: TopicConfig(
                segmentBytes: 4096, maxRecordBytes: 1024, maxBatchBytes: 4096,
                retentionMs: 3_600_000, fileDeleteDelayMs: 0))
        let old = wallClockMilliseconds() - 7_200_000
        for start in stride(from: 0, to: 300, by: 10) {
            try store.append(to: "metered", records: records(start..<start + 10, size: 40) { _ in old }, acks: .buffered)
        }
        let report = try store.maintain(topic: "metered")
        let removed = report.recordsRemovedByRetention
        #expect(removed > 0)
        let dimensions = [("topic", "metered"), ("partition", "0")]
        #expect(try metrics.expectCounter("reservoir_retention_removed_records", dimensions).totalValue == Int64(removed))
        #expect(
            try metrics.expectCounter("reservoir_retention_removed_bytes", dimensions).totalValue == Int64(report.bytesRemovedByRetention))
        #expect(store.maintenanceTotals[TopicPartition("metered", 0)]?.recordsRemovedByRetention == removed)
    }
}
