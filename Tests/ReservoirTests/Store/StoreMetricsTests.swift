import CoreMetrics
import Foundation
import MetricsTestKit
import Testing
@testable import Reservoir

/// The store's metrics, read back through MetricsTestKit (topic and group names no other test uses).
@Suite("Store metrics: appends, reads, fsyncs, log size, consumer lag, work queues")
struct StoreMetricsTests {
    @Test("appends, reads, fsync, segments and size per topic and partition; lag per group; queue counts")
    func metrics() async throws {
        let metrics = testMetrics
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: onDemandMaintenance)
        defer { try? store.close() }
        try store.createTopic("metrics-t", config: TopicConfig(segmentBytes: 4096, maxRecordBytes: 1024, maxBatchBytes: 4096))
        var bytes = 0
        for start in stride(from: 0, to: 200, by: 10) {
            let records = (start..<start + 10).map { Record(key: Array("k\($0)".utf8), value: Array(repeating: 7, count: 30)) }
            let range = try await store.append(to: "metrics-t", records: records, acks: .durable)
            #expect(range.count == 1)
        }
        let log = try store.log(topic: "metrics-t", partition: 0)
        bytes = log.sizeInBytes
        let topic = [("topic", "metrics-t")]
        let partition = [("topic", "metrics-t"), ("partition", "0")]
        #expect(try metrics.expectCounter("reservoir_append_records", topic).totalValue == 200)
        #expect(try metrics.expectCounter("reservoir_append_batches", topic).totalValue == 20)
        #expect(try metrics.expectCounter("reservoir_append_bytes", topic).totalValue == Int64(bytes))
        #expect(try metrics.expectTimer("reservoir_append_duration", topic).values.count == 20)
        #expect(try !metrics.expectTimer("reservoir_fsync_duration", partition).values.isEmpty)
        // Log size and segments: at every roll, deletion, compaction and maintenance pass.
        _ = try store.maintain()
        #expect(try metrics.expectGauge("reservoir_log_segments", partition).lastValue == Double(log.segments.count))
        #expect(log.segments.count > 1)
        #expect(try metrics.expectGauge("reservoir_log_size_bytes", partition).lastValue == Double(bytes))
        _ = try allRecords(log)
        #expect(try metrics.expectCounter("reservoir_read_bytes", topic).totalValue == Int64(bytes))

        // A group member commits 50 of 200: lag 150.
        let member = try store.consumer(
            group: "metrics-g", topics: ["metrics-t"],
            options: ConsumerOptions(commit: .manual, sessionTimeoutMilliseconds: patientSessionMilliseconds))
        _ = try member.poll(maxRecords: 50)
        try member.commitSync()
        let lag = [("group", "metrics-g"), ("topic", "metrics-t"), ("partition", "0")]
        #expect(try metrics.expectGauge("reservoir_consumer_lag", lag).lastValue == 150)
        try member.close()

        // A queue: 3 taken, 2 acknowledged, 1 rejected into the dead-letter topic.
        let queue = try store.queue(group: "metrics-q", topic: "metrics-t", options: QueueOptions(deadLetterTopic: "metrics-dlq"))
        let taken = try queue.poll(max: 3)
        let dimensions = [("group", "metrics-q"), ("topic", "metrics-t")]
        #expect(try metrics.expectGauge("reservoir_queue_in_flight", dimensions).lastValue == 3)
        try queue.ack(Array(taken.prefix(2)))
        try queue.reject([taken[2]])
        #expect(try metrics.expectCounter("reservoir_queue_acknowledged", dimensions).totalValue == 2)
        #expect(try metrics.expectCounter("reservoir_queue_dead_lettered", dimensions).totalValue == 1)
        #expect(try metrics.expectGauge("reservoir_queue_in_flight", dimensions).lastValue == 0)
        #expect(try !metrics.expectTimer("reservoir_recovery_duration").values.isEmpty)
    }
}
