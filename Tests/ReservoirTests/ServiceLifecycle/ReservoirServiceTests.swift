import Foundation
import Logging
import Reservoir
import ReservoirServiceLifecycle
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite("swift-service-lifecycle: the store closes cleanly on graceful shutdown")
struct ReservoirServiceTests {
    @Test("graceful shutdown closes the store: flushed, checkpointed, marked clean; the next open finds every record")
    func gracefulShutdownCloses() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("events")
        _ = try await store.append(to: "events", records: (0..<100).map { Record(value: Array("e\($0)".utf8)) }, acks: .buffered)
        try await testGracefulShutdown { trigger in
            let service = ReservoirService(store: store)
            let running = Task { try await service.run() }
            try await Task.sleep(nanoseconds: 100_000_000)
            #expect(!store.isClosed)
            trigger.triggerGracefulShutdown()
            try await withDeadline { try await running.value }
        }
        #expect(store.isClosed)
        let reopened = try Reservoir.open(at: dir)
        defer { try? reopened.close() }
        #expect(reopened.openedAfterCleanShutdown)
        #expect(try allRecords(reopened.log(topic: "events", partition: 0)).count == 100)
    }

    @Test("a cancelled service group closes the store too")
    func cancellationCloses() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        let group = ServiceGroup(services: [ReservoirService(store: store)], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        try await Task.sleep(nanoseconds: 100_000_000)
        running.cancel()
        try await withDeadline { try await running.value }
        #expect(store.isClosed)
    }
}
