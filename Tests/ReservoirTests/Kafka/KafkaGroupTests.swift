import Foundation
import Synchronization
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// Consumer groups of Kafka clients, coordinated by `reservoir serve`.
@Suite("Kafka consumer groups: real clients share partitions, commit, leave, time out", .serialized)
struct KafkaGroupTests {
    /// A store with topic "gt" of 4 partitions, served with a short initial rebalance delay.
    static func served(_ dir: String) throws -> ServedStore {
        let store = try Reservoir.open(at: dir + "/store")
        try store.createTopic("gt", config: TopicConfig(partitions: 4))
        try store.close()
        return try ServedStore(directory: dir + "/store", arguments: ["--group-initial-rebalance-delay-ms", "300"])
    }

    @Test(
        "two librdkafka consumers share the partitions and commit; one leaves, the other takes over; a new one resumes from the commits; kafka-python lists, describes and deletes the group"
    )
    func shareLeaveResume() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try Self.served(dir)
            let output = try Oracle.run("kafka_groups.py", ["\(server.port)"])
            #expect(output == "ok\n")
            server.stop()
            // The commits are the store's: the group was deleted, its offsets went with it.
            let store = try Reservoir.open(at: dir + "/store")
            defer { try? store.close() }
            #expect(!store.consumerGroups.contains("g1"))
        }
    }

    @Test("a member killed with SIGKILL stops heartbeating: after its session timeout the other member gets its partitions")
    func sessionTimeout() async throws {
        try await onOwnThread {
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            let server = try Self.served(dir)
            defer { server.stop() }
            let first = try GroupMember(port: server.port, group: "g2", name: "first")
            defer { first.kill() }
            #expect(first.waitForAssignment(timeout: 30) { $0 == [0, 1, 2, 3] })
            let second = try GroupMember(port: server.port, group: "g2", name: "second")
            defer { second.kill() }
            #expect(second.waitForAssignment(timeout: 30) { !$0.isEmpty })
            #expect(first.waitForAssignment(timeout: 30) { $0.count < 4 && !$0.isEmpty })
            first.kill()
            let killed = ContinuousClock.now
            #expect(second.waitForAssignment(timeout: 30) { $0 == [0, 1, 2, 3] })
            // Not a leave: the coordinator noticed only when the 6 s session ran out.
            #expect(killed.duration(to: .now) > .seconds(4))
        }
    }
}

/// `kafka_group_member.py` in a child process: its assignments as they change.
final class GroupMember: @unchecked Sendable {
    // Sendable by confinement: `process` is used by the test's thread only; the reader thread
    // touches `assignments`, behind its mutex.
    private let process = ChildProcess()
    private let assignments = Mutex<[[Int]]>([])
    private var killed = false

    init(port: Int, group: String, name: String) throws {
        process.executableURL = URL(fileURLWithPath: try KafkaInteropTests.oraclePython())
        process.arguments = [
            KafkaInteropTests.packageRoot.appendingPathComponent("Tests/Oracle/kafka_group_member.py").path, "\(port)", group, name,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = output.fileHandleForReading
        Thread { [self] in
            var pending = ""
            while true {
                let data = reader.availableData
                if data.isEmpty { return }
                pending += String(decoding: data, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        let partitions = object["assigned"] as? [Int]
                    {
                        self.assignments.withLock { $0.append(partitions) }
                    }
                }
            }
        }.start()
    }

    /// Waits until the latest assignment satisfies `condition`.
    func waitForAssignment(timeout seconds: Double, _ condition: ([Int]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let latest = assignments.withLock({ $0.last }), condition(latest) { return true }
            usleep(50_000)
        }
        return false
    }

    func kill() {
        guard !killed else { return }
        killed = true
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
