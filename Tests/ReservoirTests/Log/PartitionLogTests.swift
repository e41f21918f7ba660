import Foundation
import Testing
@testable import Reservoir

@Suite("Partition log: append, read, roll, timestamps")
struct PartitionLogTests {
    @Test("appends get consecutive offsets and read back exactly")
    func appendAndRead() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(partitions: 1))
        let first = try store.append(to: "t", records: records(0..<100), acks: .buffered)
        let second = try store.append(to: "t", records: records(100..<150), acks: .durable)
        #expect(first == [.init(partition: 0, offsets: 0...99)])
        #expect(second == [.init(partition: 0, offsets: 100...149)])
        let read = try store.read(topic: "t", partition: 0, from: 0, maxBytes: 1 << 20)
        let got = try read.records()
        #expect(got.map(\.offset) == Array(0..<150))
        #expect(got.map(\.value) == records(0..<150).map(\.value))
        #expect(got.map(\.key) == records(0..<150).map(\.key))
        #expect(got[7].headers == [RecordHeader("h", "7")])
        // From the middle of a batch: the batch is returned whole, records() skips what is below.
        let middle = try store.read(topic: "t", partition: 0, from: 120)
        #expect(middle.batches.first?.baseOffset == 100)
        #expect(try middle.records().first?.offset == 120)
        // At the end: empty. Beyond: an error.
        #expect(try store.read(topic: "t", partition: 0, from: 150).isEmpty)
        #expect(throws: ReservoirError.self) { try store.read(topic: "t", partition: 0, from: 151) }
        try store.close()
    }

    @Test("rolls by size and reads across segments; survives reopen")
    func rollsAndReopens() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic(
                "t", config: TopicConfig(segmentBytes: 4096, indexIntervalBytes: 256, maxRecordBytes: 1024, maxBatchBytes: 4096))
            for i in 0..<40 { try store.append(to: "t", records: records(i * 10..<(i + 1) * 10), acks: .buffered) }
            let log = try store.log(topic: "t", partition: 0)
            #expect(log.segments.count > 3)
            #expect(log.segments.allSatisfy { $0.bytes <= 4096 })
            try store.close()
        }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(store.openedAfterCleanShutdown)
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.endOffset == 400)
        let all = try allRecords(log)
        #expect(all.map(\.offset) == Array(0..<400))
        #expect(all.map(\.value) == records(0..<400).map(\.value))
        // Every offset can be read on its own, at and between index entries.
        for target in stride(from: Int64(0), to: 400, by: 1) {
            #expect(try log.read(from: target, maxBytes: 1).records().first?.offset == target)
        }
        // Appends continue after reopen.
        try store.append(to: "t", records: records(400..<410), acks: .durable)
        #expect(log.endOffset == 410)
    }

    @Test("finds offsets by timestamp: before, between, at, after")
    func timestamps() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic(
            "t", config: TopicConfig(segmentBytes: 2048, indexIntervalBytes: 128, maxRecordBytes: 1024, maxBatchBytes: 2048))
        for i in 0..<50 {
            try store.append(to: "t", records: records(i * 5..<(i + 1) * 5, timestamp: { 1_000 + Int64($0) * 10 }), acks: .buffered)
        }
        #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 0) == 0)
        #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_000) == 0)
        #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_005) == 1)
        #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_010) == 1)
        for i in stride(from: 0, to: 250, by: 13) {
            #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_000 + Int64(i) * 10) == Int64(i))
            #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_000 + Int64(i) * 10 - 3) == Int64(i))
        }
        #expect(try store.offset(topic: "t", partition: 0, forTimestamp: 1_000 + 250 * 10) == nil)
    }

    @Test("rolls when the offset index is full")
    func rollsOnFullIndex() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        // 64-byte indexes hold 8 offset entries and 4 time entries (one reserved).
        try store.createTopic("t", config: TopicConfig(indexIntervalBytes: 0, maxIndexBytes: 64))
        for i in 0..<20 { try store.append(to: "t", records: records(i..<i + 1), acks: .buffered) }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.segments.count > 1)
        #expect(try log.read(from: 0, maxBytes: 1 << 20).records().count > 0)
        #expect(try allRecords(log).map(\.offset) == Array(0..<20))
    }

    @Test("keyed records go to Kafka's partition; unkeyed spread")
    func partitioning() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(partitions: 5))
        let ranges = try store.append(to: "t", records: records(0..<100), acks: .buffered)
        #expect(ranges.reduce(0) { $0 + $1.offsets.count } == 100)
        for range in ranges {
            let got = try store.read(topic: "t", partition: range.partition, from: 0).records()
            for record in got {
                #expect(Partitioner.partition(forKey: record.key ?? [], partitions: 5) == range.partition)
            }
        }
        var used = Set<Int>()
        for _ in 0..<10 {
            used.formUnion(try store.append(to: "t", records: records(0..<3, keyed: false), acks: .buffered).map(\.partition))
        }
        #expect(used.count == 5)
    }

    @Test("single-record appends batch together and acknowledge exact offsets")
    func accumulator() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t")
        let receipts = try await withThrowingTaskGroup(of: (Int, Reservoir.AppendReceipt).self) { group in
            for i in 0..<500 {
                group.addTask { (i, try await store.append(to: "t", key: nil, value: "v\(i)", acks: i % 2 == 0 ? .durable : .buffered)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(receipts.map(\.1.offset)) == Set(0..<500))
        let result = try store.read(topic: "t", partition: 0, from: 0, maxBytes: 10 << 20)
        #expect(result.batches.count < 500)
        let byOffset = Dictionary(uniqueKeysWithValues: try result.records().map { ($0.offset, $0.value) })
        #expect(byOffset.count == 500)
        // Every append's receipt names the offset that holds exactly its value.
        for (i, receipt) in receipts { #expect(byOffset[receipt.offset] == Array("v\(i)".utf8), "append \(i)") }
        try store.close()
    }

    @Test("bad input: names, sizes, missing topics, second opener")
    func badInput() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        for bad in ["", ".", "..", "a/b", "with space", String(repeating: "x", count: 250), "ü"] {
            #expect(throws: ReservoirError.self) { try store.createTopic(bad) }
        }
        try store.createTopic(String(repeating: "x", count: 249))
        try store.createTopic("small", config: TopicConfig(maxRecordBytes: 1000, maxBatchBytes: 5000))
        let error = #expect(throws: ReservoirError.self) {
            try store.append(to: "small", records: [Record(value: [UInt8](repeating: 1, count: 2000))])
        }
        #expect(error?.code == .recordTooLarge)
        #expect(try store.log(topic: "small", partition: 0).endOffset == 0)
        #expect(throws: ReservoirError.self) { try store.append(to: "missing", records: records(0..<1)) }
        #expect(throws: ReservoirError.self) { try store.createTopic("small") }
        let second = #expect(throws: ReservoirError.self) { try Reservoir.open(at: dir) }
        #expect(second?.code == .storeLocked)
    }
}

@Suite("Preallocation ahead of the writer")
struct PreallocationTests {
    @Test("by default, space is prepared only once a partition takes durable appends; -1 never; close and recovery see exactly the records")
    func automaticForDurableAppends() throws {
        let dir = temporaryDirectory()
        let copy = dir + "-crash"
        defer {
            removeDirectory(dir)
            removeDirectory(copy)
        }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("auto", config: TopicConfig(partitions: 2, segmentBytes: 64 << 20))
        try store.createTopic("off", config: TopicConfig(segmentBytes: 64 << 20, preallocateBytes: -1))
        func size(_ topic: String, _ partition: Int) throws -> Int {
            try #require(
                try FileManager.default.attributesOfItem(atPath: dir + "/topics/\(topic)/\(partition)/00000000000000000000.log")[.size]
                    as? Int)
        }
        func prepared(_ topic: String, _ partition: Int) throws -> Bool {
            let logical = try store.log(topic: topic, partition: partition).sizeInBytes
            for _ in 0..<500 {
                if try size(topic, partition) > logical { return true }
                usleep(2_000)
            }
            return false
        }
        for i in 0..<20 {
            try store.append(to: "auto", records: records(i * 100..<(i + 1) * 100, size: 200), partition: 0, acks: .durable)
            try store.append(to: "auto", records: records(i * 100..<(i + 1) * 100, size: 200), partition: 1, acks: .buffered)
            try store.append(to: "off", records: records(i * 100..<(i + 1) * 100, size: 200), acks: .durable)
        }
        #expect(try prepared("auto", 0), "a partition taking durable appends gets space ahead")
        #expect(try size("auto", 1) == store.log(topic: "auto", partition: 1).sizeInBytes, "buffered appends only: none")
        #expect(try size("off", 0) == store.log(topic: "off", partition: 0).sizeInBytes, "-1: none")
        // A crash now leaves the zero tail: recovery stops at it and keeps every record.
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/.lock")
        let logical = try store.log(topic: "auto", partition: 0).sizeInBytes
        try store.close()
        #expect(try size("auto", 0) == logical, "a clean close cuts the prepared space off")
        let recovered = try Reservoir.open(at: copy)
        defer { try? recovered.close() }
        let log = try recovered.log(topic: "auto", partition: 0)
        #expect(log.openReport.truncatedBytes == 0 && log.endOffset == 2000 && log.sizeInBytes == logical)
        #expect(try allRecords(log).map(\.value) == records(0..<2000, size: 200).map(\.value))
        #expect(try StoreVerifier.verify(directory: copy).isSound)
    }

    @Test("a reopened segment, whose end lies inside a page, gets space prepared ahead again; the records read back exactly")
    func reopenedSegmentPreparesSpace() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/topics/t/0/00000000000000000000.log"
        func physicalSize() -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        func prepared(_ store: Reservoir) throws -> Bool {
            let logical = try store.log(topic: "t", partition: 0).sizeInBytes
            for _ in 0..<500 {
                if physicalSize() > logical { return true }
                usleep(2_000)
            }
            return false
        }
        var store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(segmentBytes: 64 << 20, preallocateBytes: 2 << 20))
        for i in 0..<20 { try store.append(to: "t", records: records(i * 100..<(i + 1) * 100, size: 300), acks: .buffered) }
        #expect(try prepared(store))
        // Single records until the segment ends early in a page, so that the first append after
        // the reopen ends in the same page.
        var next = 2000
        while try store.log(topic: "t", partition: 0).sizeInBytes % FileSystem.pageSize > 1024 {
            try store.append(to: "t", records: records(next..<(next + 1), size: 300), acks: .buffered)
            next += 1
        }
        let logical = try store.log(topic: "t", partition: 0).sizeInBytes
        try store.close()
        #expect(physicalSize() == logical)
        try #require(logical % FileSystem.pageSize != 0, "the segment ends inside a page")

        store = try Reservoir.open(at: dir)
        try store.append(to: "t", records: records(next..<(next + 1), size: 300), acks: .buffered)
        next += 1
        // Time for the filler to start from there, before later appends move the writer on.
        usleep(100_000)
        // Past the first chunk (1 MiB): the filler keeps preparing.
        for _ in 0..<60 {
            try store.append(to: "t", records: records(next..<(next + 100), size: 300), acks: .buffered)
            next += 100
        }
        #expect(try prepared(store), "space is prepared from the page the reopened segment ends in")
        let grown = try store.log(topic: "t", partition: 0).sizeInBytes
        try store.close()
        #expect(physicalSize() == grown)

        store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.segments.count == 1 && log.endOffset == Int64(next))
        #expect(try allRecords(log).map(\.value) == records(0..<next, size: 300).map(\.value))
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("space is prepared ahead of the writer, cut off on close; a crash copy recovers without loss")
    func preallocatedTail() throws {
        let dir = temporaryDirectory()
        let copy = dir + "-crash"
        defer {
            removeDirectory(dir)
            removeDirectory(copy)
        }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(segmentBytes: 64 << 20, preallocateBytes: 8 << 20))
        for i in 0..<20 { try store.append(to: "t", records: records(i * 100..<(i + 1) * 100, size: 200), acks: .buffered) }
        let log = try store.log(topic: "t", partition: 0)
        let logical = log.sizeInBytes
        let path = dir + "/topics/t/0/00000000000000000000.log"
        var physical = 0
        for _ in 0..<500 {
            physical = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if physical > logical { break }
            usleep(2_000)
        }
        #expect(physical > logical, "the filler prepares space beyond the last batch")
        // What a crash at this moment leaves: the files with their zero tail, no clean marker.
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/.lock")
        try store.close()
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == logical)

        let recovered = try Reservoir.open(at: copy)
        defer { try? recovered.close() }
        let recoveredLog = try recovered.log(topic: "t", partition: 0)
        #expect(recoveredLog.openReport.truncatedBytes == 0)
        #expect(recoveredLog.endOffset == 2000)
        #expect(recoveredLog.sizeInBytes == logical)
        #expect(try allRecords(recoveredLog).map(\.value) == records(0..<2000, size: 200).map(\.value))
        #expect(try StoreVerifier.verify(directory: copy).isSound)
    }
}
