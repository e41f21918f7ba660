import Foundation
import Testing
@testable import Reservoir

@Suite("Deleting topics")
struct TopicDeletionTests {
    @Test("a deleted topic is gone, its files too, and stays gone after reopening; its name can be used again")
    func deleteTopic() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("gone", config: TopicConfig(partitions: 2))
            try store.createTopic("kept")
            try store.append(to: "gone", records: records(0..<50), acks: .buffered)
            try store.append(to: "kept", records: records(0..<5), acks: .buffered)
            let log = try store.log(topic: "gone", partition: 0)
            try store.deleteTopic("gone")
            #expect(store.topicNames == ["kept"])
            #expect(log.isClosed)
            #expect(throws: ReservoirError.self) { try store.append(to: "gone", records: records(0..<1), acks: .buffered) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/topics") == ["kept"])
            #expect(throws: ReservoirError.self) { try store.deleteTopic("gone") }
            #expect(throws: ReservoirError.self) { try store.deleteTopic("__consumer_offsets") }
            try store.close()
        }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(store.topicNames == ["kept"])
        try store.createTopic("gone")
        #expect(try store.log(topic: "gone", partition: 0).endOffset == 0)
    }

    @Test("a crash after the rename and before the removal: the next open removes the files, the topic does not come back")
    func crashDuringDelete() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("gone")
            try store.append(to: "gone", records: records(0..<10), acks: .durable)
            try store.close()
        }
        // The state a crash between the two steps leaves.
        try FileManager.default.moveItem(atPath: dir + "/topics/gone", toPath: StoreLayout(dir).deletedTopicDirectory("gone", stamp: 1))
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        #expect(store.topicNames.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/topics").isEmpty)
    }
}
