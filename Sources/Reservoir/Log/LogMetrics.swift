import CoreMetrics

/// A partition log's metrics, through swift-metrics (whatever backend the application
/// bootstrapped; nothing is recorded until it does). Made once per log, so that appends and
/// reads only increment.
///
/// Per topic: `reservoir_append_records`, `reservoir_append_bytes`, `reservoir_append_batches`
/// (counters; a producer's retried duplicate is not counted), `reservoir_append_duration` (timer:
/// offset assignment and the write into the page cache), `reservoir_read_bytes` (counter).
/// Per topic and partition: `reservoir_fsync_duration` (timer), `reservoir_log_segments` and
/// `reservoir_log_size_bytes` (gauges, after every roll, deletion and compaction, and each maintenance pass).
struct LogMetrics: Sendable {
    let appendedRecords: Counter
    let appendedBytes: Counter
    let appendedBatches: Counter
    let appendDuration: Timer
    let readBytes: Counter
    let fsyncDuration: Timer
    let segments: Gauge
    let sizeBytes: Gauge

    /// Metrics for the log in `directory` (`…/topics/<topic>/<partition>`).
    init(directory: String) {
        let parts = directory.split(separator: "/")
        let topic = parts.count >= 2 ? String(parts[parts.count - 2]) : directory
        let partition = parts.last.map(String.init) ?? "0"
        let perTopic = [("topic", topic)]
        let perPartition = [("topic", topic), ("partition", partition)]
        appendedRecords = Counter(label: "reservoir_append_records", dimensions: perTopic)
        appendedBytes = Counter(label: "reservoir_append_bytes", dimensions: perTopic)
        appendedBatches = Counter(label: "reservoir_append_batches", dimensions: perTopic)
        appendDuration = Timer(label: "reservoir_append_duration", dimensions: perTopic)
        readBytes = Counter(label: "reservoir_read_bytes", dimensions: perTopic)
        fsyncDuration = Timer(label: "reservoir_fsync_duration", dimensions: perPartition)
        segments = Gauge(label: "reservoir_log_segments", dimensions: perPartition)
        sizeBytes = Gauge(label: "reservoir_log_size_bytes", dimensions: perPartition)
    }
}
