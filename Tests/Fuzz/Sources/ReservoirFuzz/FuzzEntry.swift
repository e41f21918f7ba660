import FuzzDriver
import Foundation
import Logging
import Reservoir

/// A store reused by every input: the input becomes the active segment of its one partition,
/// and opening the store runs the recovery scanner over it.
/// Recovery reports every truncation it makes; thousands a second would drown the fuzzer's output.
private let quiet: Reservoir.Options = {
    var logger = Logger(label: "reservoir-fuzz")
    logger.logLevel = .critical
    return Reservoir.Options(logger: logger)
}()

private let storeDirectory: String = {
    let path = NSTemporaryDirectory() + "reservoir-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    let store = try! Reservoir.open(at: path, options: quiet)
    try! store.createTopic("f", config: TopicConfig(segmentBytes: 1 << 20, indexIntervalBytes: 64))
    try! store.close()
    return path
}()

// libFuzzer calls the entry point from one thread.
nonisolated(unsafe) private let decoder = RecordDecoder(maxDecompressedBytes: 4 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // 1. The batch decoder, with and without the CRC check (the fuzzer rarely forges a CRC).
    for verify in [true, false] {
        if let batch = try? RecordBatch(copying: bytes, verifyCRC: verify) {
            _ = try? decoder.records(in: batch, verifyCRC: verify)
        }
    }

    // 2. The segment scanner: the input as a segment file, recovered at open, then read back.
    let partition = storeDirectory + "/topics/f/0"
    _ = FileManager.default.createFile(atPath: partition + "/00000000000000000000.log", contents: Data(bytes))
    try? FileManager.default.removeItem(atPath: partition + "/00000000000000000000.index")
    try? FileManager.default.removeItem(atPath: storeDirectory + "/.clean-shutdown")
    guard let store = try? Reservoir.open(at: storeDirectory, options: quiet) else { return 0 }
    if let log = try? store.log(topic: "f", partition: 0) {
        var offset = log.startOffset
        while offset < log.endOffset, let result = try? log.read(from: offset, maxBytes: 1 << 16), !result.isEmpty {
            _ = try? result.records(decoder: decoder)
            offset = result.nextOffset
        }
    }
    try? store.close()
    _ = try? StoreVerifier.verify(directory: storeDirectory)

    // 3. The decoders of the consumer state: the input split into a key and a value, stored in
    //    __consumer_offsets and __queue_state, loaded when the store opens, then used.
    fuzzConsumerState(bytes)
    return 0
}

private let stateDirectory = NSTemporaryDirectory() + "reservoir-fuzz-state-\(getpid())"

private func fuzzConsumerState(_ bytes: [UInt8]) {
    try? FileManager.default.removeItem(atPath: stateDirectory)
    guard let store = try? Reservoir.open(at: stateDirectory, options: quiet) else { return }
    do {
        try store.createTopic("f", config: TopicConfig(partitions: 2))
        try store.append(to: "f", records: [Record(key: nil, value: [1, 2, 3])], acks: .buffered)
        // Creating a member and a queue creates the internal topics.
        try store.consumer(group: "g", topics: ["f"]).close()
        _ = try store.queue(group: "q", topic: "f")
        let split = bytes.count / 2
        let record = Record(key: Array(bytes[..<split]), value: Array(bytes[split...]))
        let internalTopics = ["__consumer_offsets", "__queue_state"]
        var ends: [String: Int64] = [:]
        for topic in internalTopics { ends[topic] = try store.log(topic: topic, partition: 0).endOffset }
        try store.close()
        // Straight into the segment file, as a crafted file would be: the store refuses users'
        // writes to its internal topics.
        for topic in internalTopics {
            let batch = try RecordBatchEncoder().encodedBytes(
                [record, Record(key: Array(bytes), value: Array(bytes))], baseOffset: ends[topic] ?? 0, defaultTimestamp: 0)
            guard let file = FileHandle(forWritingAtPath: stateDirectory + "/topics/\(topic)/0/00000000000000000000.log") else { return }
            file.seekToEndOfFile()
            file.write(Data(batch))
            file.closeFile()
        }
    } catch {
        try? store.close()
        return
    }
    guard let reopened = try? Reservoir.open(at: stateDirectory, options: quiet) else { return }
    for group in reopened.consumerGroups {
        _ = try? reopened.describeGroup(group)
        if let member = try? reopened.consumer(group: group, topics: ["f"]) {
            _ = try? member.poll(maxRecords: 10)
            _ = member.lag()
            try? member.close()
        }
    }
    for group in reopened.queueGroups {
        _ = try? reopened.queueStatus(group: group)
        if let queue = try? reopened.queue(group: group, topic: "f"), let taken = try? queue.poll(max: 10) {
            try? queue.ack(taken)
        }
    }
    try? reopened.close()
}

/// SwiftPM links an executable's entry point under this name; hand control to libFuzzer.
@_cdecl("ReservoirFuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
