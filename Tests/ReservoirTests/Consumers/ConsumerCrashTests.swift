import Foundation
import Testing
@testable import Reservoir

/// A child `reservoir` process consuming as a group member or taking from a work queue is
/// killed with SIGKILL; the next process resumes from the durable state.
@Suite("Consumers after SIGKILL", .serialized)
struct ConsumerCrashTests {
    struct Line: Hashable {
        var partition: Int
        var offset: Int64
        var deliveryCount: Int
        var key: String?
        var value: String?
    }

    /// Starts `reservoir arguments...` and reads JSON lines from it until `count` arrived (or it
    /// exits). With `thenKill`, kills it there and keeps reading what it had printed.
    private func startChild(_ arguments: [String], until count: Int, thenKill: Bool = false) throws -> (ChildProcess, [Line]) {
        let process = ChildProcess()
        process.executableURL = reservoirExecutable()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var lines: [Line] = []
        var pending = ""
        let deadline = Date().addingTimeInterval(30)
        var killed = false
        while Date() < deadline {
            if lines.count >= count && !killed {
                guard thenKill else { break }
                kill(process)
                killed = true
            }
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let text = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
                lines.append(
                    Line(
                        partition: object["partition"] as? Int ?? -1, offset: (object["offset"] as? NSNumber)?.int64Value ?? -1,
                        deliveryCount: object["deliveryCount"] as? Int ?? 0, key: object["key"] as? String,
                        value: object["value"] as? String))
            }
        }
        return (process, lines)
    }

    private func kill(_ process: ChildProcess) {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    @Test("a group member killed mid-stream: the next one resumes at the committed offsets, nothing skipped")
    func groupMemberKilled() async throws {
        try await onOwnThread {
            signal(SIGPIPE, SIG_IGN)
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir)
                try store.createTopic("orders", config: TopicConfig(partitions: 2))
                try store.append(to: "orders", records: (0..<3000).map { Record(key: Array("k\($0)".utf8), value: Array("v\($0)".utf8)) })
                try store.close()
            }
            // What each partition holds, to check every delivered record by content.
            var stored: [Int: [Int64: (String, String)]] = [:]
            do {
                let store = try Reservoir.open(at: dir)
                for partition in 0..<2 {
                    for record in try allRecords(store.log(topic: "orders", partition: partition)) {
                        stored[partition, default: [:]][record.offset] = (
                            String(decoding: record.key!, as: UTF8.self), String(decoding: record.value!, as: UTF8.self)
                        )
                    }
                }
                try store.close()
            }
            func expectStored(_ lines: [Line]) {
                for line in lines {
                    let want = stored[line.partition]?[line.offset]
                    #expect(
                        line.key == want?.0 && line.value == want?.1,
                        "partition \(line.partition) offset \(line.offset): \(String(describing: line.value))")
                }
            }
            let (_, first) = try startChild(
                ["consume", "orders", "--dir", dir, "--group", "g", "--follow", "--json"], until: 700, thenKill: true)
            #expect(first.count >= 700)
            expectStored(first)

            let committed: [Int: Int64]
            let ends: [Int: Int64]
            do {
                let store = try Reservoir.open(at: dir)
                let status = try store.describeGroup("g")
                committed = Dictionary(uniqueKeysWithValues: status.map { ($0.partition.partition, $0.committed ?? 0) })
                ends = Dictionary(uniqueKeysWithValues: status.map { ($0.partition.partition, $0.endOffset) })
                try store.close()
            }
            // Commits survived the kill (the child commits as it fetches).
            #expect(committed.values.reduce(0, +) > 0)
            let (second, rest) = try startChild(["consume", "orders", "--dir", dir, "--group", "g", "--json"], until: Int.max)
            second.waitUntilExit()
            #expect(second.terminationStatus == 0)
            expectStored(rest)
            for partition in 0..<2 {
                let start = committed[partition] ?? 0
                let end = ends[partition] ?? 0
                // The second member reads exactly from the committed offset to the end...
                #expect(rest.filter { $0.partition == partition }.map(\.offset) == Array(start..<end))
                // ...and everything below the committed offset was handed to the first one.
                let firstOffsets = Set(first.filter { $0.partition == partition }.map(\.offset))
                #expect(
                    (0..<start).allSatisfy { firstOffsets.contains($0) },
                    "partition \(partition): committed \(start), first run read \(firstOffsets.count), max \(firstOffsets.max() ?? -1), missing \((0..<start).filter { !firstOffsets.contains($0) }.prefix(5))"
                )
            }
        }
    }

    @Test("a worker killed while holding records: they come back with their delivery count; acknowledged ones never")
    func queueWorkerKilled() async throws {
        try await onOwnThread {
            signal(SIGPIPE, SIG_IGN)
            let dir = temporaryDirectory()
            defer { removeDirectory(dir) }
            do {
                let store = try Reservoir.open(at: dir)
                try store.createTopic("jobs")
                try store.append(to: "jobs", records: (0..<20).map { Record(key: nil, value: Array("job-\($0)".utf8)) })
                try store.close()
            }
            let (acker, acked) = try startChild(
                ["queue", "jobs", "--dir", dir, "--group", "w", "--max", "5", "--ack", "--json"], until: Int.max)
            acker.waitUntilExit()
            #expect(acked.map(\.offset) == Array(0..<5))
            let (holder, held) = try startChild(
                ["queue", "jobs", "--dir", dir, "--group", "w", "--max", "5", "--hold", "--json"], until: 5)
            #expect(held.map(\.offset) == Array(5..<10))
            kill(holder)
            let (last, rest) = try startChild(
                ["queue", "jobs", "--dir", dir, "--group", "w", "--max", "100", "--ack", "--json"], until: Int.max)
            last.waitUntilExit()
            #expect(rest.map(\.offset) == Array(5..<20))
            #expect(rest.map(\.value) == (5..<20).map { "job-\($0)" })
            #expect(held.map(\.value) == (5..<10).map { "job-\($0)" })
            #expect(acked.map(\.value) == (0..<5).map { "job-\($0)" })
            #expect(rest.map(\.deliveryCount) == Array(repeating: 2, count: 5) + Array(repeating: 1, count: 10))
            let store = try Reservoir.open(at: dir)
            defer { try? store.close() }
            let status = try store.queueStatus(group: "w")
            #expect(status.acknowledged == 20 && status.inFlight == 0 && status.awaitingRedelivery == 0)
        }
    }
}
