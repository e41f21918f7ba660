import Testing
@testable import Reservoir

/// The work queue's window on its own: no store, no clock, no threads.
@Suite("Work-queue window")
struct QueueWindowTests {
    /// Records at offsets `offsets` (values "v<offset>"), as a fetch hands them over.
    static func records(_ offsets: ClosedRange<Int64>) throws -> [ConsumerRecord] {
        let encoder = try RecordBatchEncoder()
        let bytes = try encoder.encodedBytes(
            offsets.map { Record(key: nil, value: Array("v\($0)".utf8)) },
            baseOffset: offsets.lowerBound, defaultTimestamp: 1_000)
        let batch = try RecordBatch(copying: bytes)
        var records: [ConsumerRecord] = []
        try RecordDecoder().iterateRetained(batch, from: 0, verifyCRC: true) { view, storage in
            records.append(ConsumerRecord(topic: "t", partition: 0, view: view, storage: storage))
        }
        return records
    }

    @Test("records are acquired lowest offset first, up to the in-flight limit; acks move the start")
    func acquireAndAck() throws {
        var window = QueueWindow(start: 10, snapshot: nil, maxDeliveries: 3, maxInFlight: 4)
        #expect(window.wantsRecords)
        #expect(window.add(try Self.records(10...15)) == 14)  // room for 4: 14 and 15 are left out
        var token = 1
        var dead: [QueueWindow.DeadLetter] = []
        let first = window.acquire(max: 3, now: 0, lock: 100, nextToken: &token, deadLetters: &dead) { $0 }
        #expect(first.map(\.record.offset) == [10, 11, 12])
        #expect(first.map(\.deliveries) == [1, 1, 1] && token == 4)
        #expect(window.acquired == 3)
        // Acknowledging 11 leaves 10 in front: the start stays.
        window.settle(11, as: .ack, deadLetters: &dead, fetcherPosition: 14)
        #expect(window.start == 10)
        window.settle(10, as: .ack, deadLetters: &dead, fetcherPosition: 14)
        #expect(window.start == 12)
        #expect(window.totals.acknowledged == 2 && window.dirty)
        #expect(!window.holds(10, token: 1))
        #expect(window.holds(12, token: 3) && !window.holds(12, token: 2))
    }

    @Test("an expired lock makes the record available again; at the delivery limit it is archived for the dead-letter topic")
    func expiryAndDeliveryLimit() throws {
        var window = QueueWindow(start: 0, snapshot: nil, maxDeliveries: 2, maxInFlight: 10)
        _ = window.add(try Self.records(0...1))
        var token = 1
        var dead: [QueueWindow.DeadLetter] = []
        _ = window.acquire(max: 1, now: 0, lock: 100, nextToken: &token, deadLetters: &dead) { $0 }
        #expect(!window.expire(now: 99, deadLetters: &dead, fetcherPosition: 2))
        #expect(window.expire(now: 100, deadLetters: &dead, fetcherPosition: 2))
        #expect(window.awaitingRedelivery == 1)
        let again = window.acquire(max: 1, now: 200, lock: 100, nextToken: &token, deadLetters: &dead) { $0 }
        #expect(again.map(\.record.offset) == [0] && again[0].deliveries == 2)
        #expect(window.expire(now: 300, deadLetters: &dead, fetcherPosition: 2))
        #expect(dead.map(\.entry.record.offset) == [0] && dead.map(\.reason) == ["max-deliveries"])
        #expect(window.totals.archived == 1 && window.start == 1)
    }

    @Test("release, reject and the snapshot a restart resumes from")
    func snapshotRoundTrip() throws {
        var window = QueueWindow(start: 0, snapshot: nil, maxDeliveries: 5, maxInFlight: 10)
        _ = window.add(try Self.records(0...5))
        var token = 1
        var dead: [QueueWindow.DeadLetter] = []
        let taken = window.acquire(max: 4, now: 0, lock: 100, nextToken: &token, deadLetters: &dead) { $0 }
        window.settle(taken[1].record.offset, as: .ack, deadLetters: &dead, fetcherPosition: 6)
        window.settle(taken[2].record.offset, as: .reject, deadLetters: &dead, fetcherPosition: 6)
        window.settle(taken[3].record.offset, as: .release, deadLetters: &dead, fetcherPosition: 6)
        #expect(dead.map(\.reason) == ["rejected"])
        let snapshot = window.snapshot()
        #expect(snapshot.start == 0)
        #expect(
            snapshot.runs == [
                .init(first: 0, last: 0, state: .available, deliveries: 1),
                .init(first: 1, last: 1, state: .acknowledged, deliveries: 1),
                .init(first: 2, last: 2, state: .archived, deliveries: 1),
                .init(first: 3, last: 3, state: .available, deliveries: 1),
            ])
        #expect(QueueStateStore.decode(value: QueueStateStore.encode(value: snapshot)) == snapshot)

        // After a restart: 0 and 3 come back with their counts, 1 and 2 never again.
        var resumed = QueueWindow(start: 0, snapshot: snapshot, maxDeliveries: 5, maxInFlight: 10)
        _ = resumed.add(try Self.records(0...5))
        let again = resumed.acquire(max: 10, now: 0, lock: 100, nextToken: &token, deadLetters: &dead) { $0 }
        #expect(again.map(\.record.offset) == [0, 3, 4, 5])
        #expect(again.map(\.deliveries) == [2, 2, 1, 1])
        #expect(resumed.totals.acknowledged == 1 && resumed.totals.archived == 1)
    }
}
