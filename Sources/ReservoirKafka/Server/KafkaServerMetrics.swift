import CoreMetrics

/// The server's metrics, through swift-metrics (a no-op until the application bootstraps a
/// metrics backend): requests and their latency per API, bytes in and out, open connections.
struct KafkaServerMetrics: Sendable {
    let connections = Gauge(label: "reservoir_kafka_connections")
    let bytesIn = Counter(label: "reservoir_kafka_bytes_in_total")
    let bytesOut = Counter(label: "reservoir_kafka_bytes_out_total")
    let refused = Counter(label: "reservoir_kafka_connections_refused_total")
    private let requests: [KafkaAPI: Counter]
    private let latency: [KafkaAPI: Timer]

    init() {
        var requests: [KafkaAPI: Counter] = [:]
        var latency: [KafkaAPI: Timer] = [:]
        for api in KafkaAPI.allCases {
            requests[api] = Counter(label: "reservoir_kafka_requests_total", dimensions: [("api", "\(api)")])
            latency[api] = Timer(label: "reservoir_kafka_request_duration_seconds", dimensions: [("api", "\(api)")])
        }
        self.requests = requests
        self.latency = latency
    }

    /// One request of `api` answered after `nanoseconds`.
    func answered(_ api: KafkaAPI, nanoseconds: UInt64) {
        requests[api]?.increment()
        latency[api]?.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}
