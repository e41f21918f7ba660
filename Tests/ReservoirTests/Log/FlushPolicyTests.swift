import Foundation
import Testing
@testable import Reservoir

@Suite("Flush policies, durable reads, roll on offset overflow")
struct FlushPolicyTests {
    /// Waits (bounded) for `condition`, polling; the assertion is on the state, not on a time.
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func withLog(_ policy: FlushPolicy, _ body: (Reservoir, PartitionLog) throws -> Void) throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t", config: TopicConfig(flushPolicy: policy))
        try body(store, try store.log(topic: "t", partition: 0))
        try store.close()
    }

    @Test("durable policy: every append is fsync'd before it returns, even buffered ones")
    func always() throws {
        try withLog(.always) { store, log in
            try store.append(to: "t", records: records(0..<5), acks: .buffered)
            #expect(log.durableEndOffset == 5)
        }
    }

    @Test("interval:N flushes in the background once N records are unflushed")
    func everyRecords() throws {
        try withLog(.everyRecords(10)) { store, log in
            try store.append(to: "t", records: records(0..<9), acks: .buffered)
            #expect(log.durableEndOffset == 0)
            try store.append(to: "t", records: records(9..<10), acks: .buffered)
            #expect(eventually { log.durableEndOffset == 10 })
        }
    }

    @Test("interval:Tms flushes in the background after T ms")
    func everyMilliseconds() throws {
        try withLog(.everyMilliseconds(20)) { store, log in
            try store.append(to: "t", records: records(0..<3), acks: .buffered)
            #expect(eventually { log.durableEndOffset == 3 })
        }
    }

    @Test("durable isolation reads only what is fsync'd")
    func durableReads() throws {
        try withLog(.onRollAndClose) { store, log in
            try store.append(to: "t", records: records(0..<10), acks: .buffered)
            #expect(log.durableEndOffset == 0)
            #expect(try log.read(from: 0, isolation: .durable).isEmpty)
            #expect(try log.read(from: 0, isolation: .written).records().count == 10)
            try store.append(to: "t", records: records(10..<12), acks: .durable)
            #expect(try log.read(from: 0, isolation: .durable).records().map(\.offset) == Array(0..<12))
        }
    }

    @Test("a segment refuses batches whose offsets overflow its 32-bit relative range")
    func offsetOverflow() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let segment = try Segment(
            files: SegmentFiles(directory: dir, baseOffset: 1000), active: true, capacity: 1 << 20,
            indexIntervalBytes: 4096, maxIndexBytes: 1024, now: 0)
        #expect(segment.canAppend(bytes: 100, lastOffset: 1000 + Int64(Int32.max), segmentBytes: 1 << 20))
        #expect(!segment.canAppend(bytes: 100, lastOffset: 1001 + Int64(Int32.max), segmentBytes: 1 << 20))
        #expect(!segment.canAppend(bytes: 2 << 20, lastOffset: 1000, segmentBytes: 4 << 20))
    }
}
