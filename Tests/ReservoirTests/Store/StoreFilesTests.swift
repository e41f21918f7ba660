import Foundation
import Testing
@testable import Reservoir

@Suite("Store files: damaged metadata gives errors or a full scan, never a crash")
struct StoreFilesTests {
    func makeStore(_ dir: String) throws {
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(partitions: 2, segmentBytes: 4096, maxRecordBytes: 1024, maxBatchBytes: 4096))
        for i in 0..<30 { try store.append(to: "t", records: records(i * 5..<(i + 1) * 5, size: 100), partition: i % 2, acks: .buffered) }
        try store.close()
    }

    /// What `makeStore` wrote to `partition`: keys and values, in offset order.
    func expected(_ partition: Int) -> [[UInt8]?] {
        stride(from: partition, to: 30, by: 2).flatMap { i in records(i * 5..<(i + 1) * 5, size: 100).map(\.value) }
    }

    @Test("garbage checkpoints fall back to scanning everything; nothing is lost")
    func garbageCheckpoints() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try makeStore(dir)
        for name in ["recovery-point-offset-checkpoint", "log-start-offset-checkpoint"] {
            try Data("0\n7\nt 0 notanumber\n\u{0}\u{1}".utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try? FileManager.default.removeItem(atPath: dir + "/.clean-shutdown")
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(try store.log(topic: "t", partition: 0).openReport.recoveredSegments > 1)
        #expect(try allRecords(try store.log(topic: "t", partition: 0)).map(\.value) == expected(0))
        #expect(try allRecords(try store.log(topic: "t", partition: 1)).map(\.value) == expected(1))
    }

    @Test("a log start checkpoint beyond the log end (damaged, or huge numbers) costs no data")
    func logStartBeyondEnd() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try makeStore(dir)
        try Data("0\n2\nt 0 9223372036854775000\nt 1 99999\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/log-start-offset-checkpoint"))
        try Data("0\n9223372036854775807\n".utf8).write(to: URL(fileURLWithPath: dir + "/recovery-point-offset-checkpoint"))
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        for partition in 0..<2 {
            let log = try store.log(topic: "t", partition: partition)
            #expect(log.startOffset == 0)
            #expect(try allRecords(log).map(\.value) == expected(partition))
        }
    }

    @Test("a corrupt topic configuration keeps the topic closed with a clear error naming the file")
    func corruptTopicConfig() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try makeStore(dir)
        for garbage in ["{\"partitions\": \"two\"}", "\u{0}\u{ff}not json", "{\"partitions\": 0}"] {
            try Data(garbage.utf8).write(to: URL(fileURLWithPath: dir + "/topics/t/topic.json"))
            let store = try Reservoir.open(at: dir)
            let error = #expect(throws: ReservoirError.self) { try store.topic("t") }
            #expect(error?.code == .corruptData)
            #expect(error?.message.contains("topics/t/topic.json") == true)
            #expect(store.unreadableTopics["t"] == error)
            try store.close()
        }
    }

    @Test("a directory of another kind is refused, and so is a newer format")
    func foreignDirectories() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        #expect(throws: ReservoirError.self) { try Reservoir.open(at: dir) }
        let other = temporaryDirectory()
        defer { removeDirectory(other) }
        try makeStore(other)
        try Data("reservoir-format 99\n".utf8).write(to: URL(fileURLWithPath: other + "/reservoir.format"))
        let error = #expect(throws: ReservoirError.self) { try Reservoir.open(at: other) }
        #expect(error?.code == .unsupportedFormat)
    }
}
