import CReservoirText

/// What the `consume --json` lines of one partition share, kept between its records: the start
/// of every line (topic and partition, escaped once), and the offset and timestamp last written,
/// from which the next ones (one offset on, a few milliseconds later) are written by adding to
/// their digits rather than dividing.
struct JSONLinePartition {
    /// `{"topic":…,"partition":…,"offset":`, as ``JSONLineWriter`` writes it.
    let start: [UInt8]
    var offset = reservoir_decimal_memo()
    var timestamp = reservoir_decimal_memo()

    init(topic: String, partition: Int) {
        var topic = topic
        start = topic.withUTF8 { topic in
            let room = JSONLineWriter.bound(topic: topic.count, key: 0, value: 0)
            return [UInt8](unsafeUninitializedCapacity: room) { buffer, count in
                guard let base = buffer.baseAddress else { return }
                let end = JSONLineWriter.lineStart(topic: UnsafeRawBufferPointer(topic), partition: partition, at: base)
                count = UnsafeMutableRawPointer(base).distance(to: end)
            }
        }
    }
}
