import Foundation
import Testing
@testable import Reservoir

/// Runs a command, returning whether it exited 0.
@discardableResult
func runCommand(_ path: String, _ arguments: [String]) -> Bool {
    let process = ChildProcess()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// A small tmpfs, for a disk that really fills up (needs root and mount rights, as in CI here).
enum SmallFileSystem {
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = temporaryDirectory("mount-probe")
        defer { removeDirectory(probe) }
        guard runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) else { return false }
        return runCommand("/bin/umount", [probe])
    }()

    /// Runs `body` with a 3 MiB tmpfs mounted at a fresh directory, unmounted afterwards.
    static func mounted(_ body: (String) throws -> Void) throws {
        let mountPoint = temporaryDirectory()
        #expect(runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]))
        defer {
            runCommand("/bin/umount", [mountPoint])
            removeDirectory(mountPoint)
        }
        try body(mountPoint)
    }
}

@Suite("A full disk", .serialized)
struct DiskFullTests {
    @Test(
        "appends fail with a clear error, nothing acknowledged is lost, the store recovers",
        .enabled(if: SmallFileSystem.available, "needs root and permission to mount a tmpfs"))
    func fullDisk() throws {
        try SmallFileSystem.mounted { mountPoint in try fullDisk(mountPoint) }
    }

    func fullDisk(_ mountPoint: String) throws {
        let dir = mountPoint + "/store"
        var acknowledged: [LogRecord] = []
        var failure: ReservoirError?
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t", config: TopicConfig(segmentBytes: 1 << 20, maxIndexBytes: 64 * 1024))
            for round in 0..<1000 {
                let batch = records(round * 10..<(round + 1) * 10, size: 500)
                do throws(ReservoirError) {
                    let range = try store.append(to: "t", records: batch, acks: .durable)[0].offsets
                    acknowledged += zip(range, batch).map {
                        LogRecord(offset: $0, timestamp: 0, key: $1.key, value: $1.value, headers: $1.headers)
                    }
                } catch {
                    failure = error
                    break
                }
            }
            #expect(failure?.code == .io)
            #expect(failure?.errno == ENOSPC)
            #expect(failure?.message.contains("the disk is full") == true)
            #expect(acknowledged.count > 100)
            // Everything acknowledged reads back while the disk is still full.
            let got = try allRecords(try store.log(topic: "t", partition: 0))
            #expect(got.map(\.offset) == acknowledged.map(\.offset))
            #expect(got.map(\.value) == acknowledged.map(\.value))
            try? store.close()
        }
        // More room, a reopen (unclean if the close could not write its marker): nothing lost.
        #expect(runCommand("/bin/mount", ["-o", "remount,size=64m", mountPoint]))
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let log = try store.log(topic: "t", partition: 0)
        let got = try allRecords(log)
        #expect(got.map(\.value) == acknowledged.map(\.value))
        try store.append(to: "t", records: records(0..<10), acks: .durable)
        #expect(log.endOffset == Int64(acknowledged.count + 10))
    }

    @Test(
        "a producer stops at the first failed write: later batches fail, nothing after it is written",
        .enabled(if: SmallFileSystem.available, "needs root and permission to mount a tmpfs"))
    func producerOnFullDisk() throws {
        try SmallFileSystem.mounted { mountPoint in try producerOnFullDisk(mountPoint) }
    }

    func producerOnFullDisk(_ mountPoint: String) throws {
        let store = try Reservoir.open(at: mountPoint + "/store")
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(segmentBytes: 1 << 20, maxIndexBytes: 64 * 1024))
        let producer = try store.makeProducer(for: "t", acks: .buffered, maxInFlight: 4)
        let builder = try producer.makeBatchBuilder()
        var tickets: [(PendingAppend, [Record])] = []
        var refused: ReservoirError?
        for round in 0..<1000 {
            let batch = records(round * 10..<(round + 1) * 10, size: 500)
            for record in batch { try builder.append(record) }
            do throws(ReservoirError) {
                tickets.append((try producer.send(builder, partition: 0), batch))
            } catch {
                refused = error
                break
            }
        }
        #expect(refused?.errno == ENOSPC)
        #expect { try producer.flush() } throws: { ($0 as? ReservoirError)?.errno == ENOSPC }
        // Acknowledged batches form a prefix of those sent; every later one failed with the same error.
        var acknowledged: [Record] = []
        var failed = 0
        for (ticket, batch) in tickets {
            do throws(ReservoirError) {
                let range = try ticket.wait()
                #expect(failed == 0)
                #expect(range.offsets.lowerBound == Int64(acknowledged.count))
                acknowledged += batch
            } catch {
                #expect(error.errno == ENOSPC)
                failed += 1
            }
        }
        #expect(failed >= 1)
        #expect(acknowledged.count > 100)
        let got = try allRecords(try store.log(topic: "t", partition: 0))
        #expect(got.map(\.value) == acknowledged.map(\.value))
    }
}
