import FuzzDriver
import Foundation
@testable import Reservoir

// In-memory fuzzing of every decoder that reads bytes from disk, thousands of inputs a second.
// The first byte of an input picks the decoder; the rest is its input. (The store-level recovery
// target, which opens a store on disk for every input, is ReservoirFuzz.)

// libFuzzer calls the entry point from one thread.
nonisolated(unsafe) private let decoder = RecordDecoder(maxDecompressedBytes: 4 << 20)

/// A file on which the index decoders map their input (they read mapped files only).
private let indexDirectory: String = {
    let path = NSTemporaryDirectory() + "reservoir-decoder-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

private enum Target: UInt8, CaseIterable {
    case recordBatch, offsetIndex, timeIndex, checkpoint, topicSettings, committedOffset, queueState, producerSnapshot
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let target = Target(rawValue: data[0] % UInt8(Target.allCases.count)) ?? .recordBatch
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch target {
    case .recordBatch:
        // With and without the CRC check: the fuzzer rarely forges a CRC.
        for verify in [true, false] {
            if let batch = try? RecordBatch(copying: bytes, verifyCRC: verify) {
                _ = try? decoder.records(in: batch, verifyCRC: verify)
                _ = try? decoder.validate(batch)
            }
        }
        bytes.withUnsafeBytes { raw in
            var position = 0
            while let header = try? RecordBatchHeader.validate(raw, at: position, verifyCRC: false), header.totalSize > 0 {
                position += header.totalSize
            }
        }
    case .offsetIndex, .timeIndex:
        let path = indexDirectory + "/00000000000000000100" + (target == .offsetIndex ? ".index" : ".timeindex")
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return 0 }
        if target == .offsetIndex, let index = try? OffsetIndex(path: path, baseOffset: 100, maxBytes: 1 << 20, writable: false) {
            _ = index.sanityCheck(logSize: bytes.count * 4)
            for offset: Int64 in [0, 99, 100, 101, 1 << 20, .max / 2] { _ = index.lookup(offset) }
        } else if let index = try? TimeIndex(path: path, baseOffset: 100, maxBytes: 1 << 20, writable: false) {
            _ = index.sanityCheck(lastOffset: 200)
            for timestamp: Int64 in [.min, -1, 0, 1 << 40, .max] { _ = index.lookup(timestamp) }
        }
    case .checkpoint:
        _ = CheckpointFile.parse(bytes)
    case .producerSnapshot:
        // What decodes encodes back to a snapshot that decodes to the same producers.
        if let table = ProducerSnapshot.decode(bytes), ProducerSnapshot.decode(ProducerSnapshot.encode(table))?.entries != table.entries {
            fatalError("a producer snapshot does not survive a round trip")
        }
    case .topicSettings:
        if let config = try? JSONDecoder().decode(TopicConfig.self, from: Data(bytes)) { _ = try? config.validate() }
    case .committedOffset:
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        _ = OffsetStore.decode(key: Array(bytes[..<split]))
        _ = OffsetStore.decode(value: Array(bytes[split...]))
    case .queueState:
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        _ = QueueStateStore.decode(key: Array(bytes[..<split]))
        _ = QueueStateStore.decode(value: Array(bytes[split...]))
    }
    return 0
}

/// SwiftPM links an executable's entry point under this name; hand control to libFuzzer.
@_cdecl("DecoderFuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDecoders(data, size) }
}
