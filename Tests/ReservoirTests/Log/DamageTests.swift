import Foundation
import Testing
@testable import Reservoir

/// Damage on disk is reported and contained, never repaired by deleting durable data; an
/// operator's repair keeps everything intact and moves the damaged bytes aside.
@Suite("Damage: reported and kept, never deleted; repair keeps what is intact")
struct DamageTests {
    /// A store of `segments` segments of 100-byte keyed records with headers, closed cleanly.
    /// Returns the records and the segment files in order.
    func store(_ dir: String, segments wanted: Int = 17) throws -> (records: [LogRecord], logs: [String]) {
        let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        try store.createTopic("t", config: TopicConfig(segmentBytes: 16 * 1024, indexIntervalBytes: 1024))
        var next = 0
        while try store.log(topic: "t", partition: 0).segments.count < wanted {
            try store.append(to: "t", records: records(next..<(next + 25), size: 100), acks: .buffered)
            next += 25
        }
        let all = try allRecords(store.log(topic: "t", partition: 0))
        try store.close()
        let partition = dir + "/topics/t/0"
        let logs = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted().map {
            partition + "/" + $0
        }
        return (all, logs)
    }

    /// Options of an operator's repair (`reservoir verify --repair`).
    let repairing = Reservoir.Options(maintenanceIntervalMilliseconds: 0, repairDamage: true)

    func base(of path: String) -> Int64 { SegmentFiles.parse(FileSystem.fileName(of: path))!.baseOffset }

    func sizes(_ paths: [String]) -> [Int] {
        paths.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? -1 }
    }

    /// Every record from the start, reading past nothing: stops at the first error and returns it.
    func readAll(_ log: PartitionLog) -> (records: [LogRecord], error: ReservoirError?) {
        var all: [LogRecord] = []
        var offset = log.startOffset
        while offset < log.endOffset {
            do {
                let result = try log.read(from: offset, maxBytes: 64 * 1024)
                all += try result.records()
                offset = result.nextOffset
            } catch {
                return (all, error as? ReservoirError)
            }
        }
        return (all, nil)
    }

    @Test(
        "a middle segment cut short, on a cleanly closed store: nothing is deleted, reads stop at the damage, later segments stay readable")
    func truncatedMiddleSegment() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (all, logs) = try store(dir)
        let damaged = logs[5]
        let damagedBase = base(of: damaged)
        let nextBase = base(of: logs[6])
        let handle = try Foundation.FileHandle(forWritingTo: URL(fileURLWithPath: damaged))
        try handle.truncate(atOffset: 5000)
        try handle.close()
        let before = sizes(logs)

        // A read-only use of the store (what `consume` does) deletes nothing.
        let store = try Reservoir.open(at: dir)
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.damage.count == 1)
        let range = try #require(log.damage.first)
        #expect(range.kind == .invalidBytes && range.file == damaged && range.endOffset == nextBase)
        let (read, error) = readAll(log)
        #expect(read == all.filter { $0.offset < range.firstOffset })
        #expect(range.firstOffset >= damagedBase && range.firstOffset < nextBase)
        let failure = try #require(error)
        #expect(failure.code == .corruptData)
        #expect(failure.message.contains("topic t partition 0: offset \(range.firstOffset)") && failure.message.contains(damaged))
        // Every record after the damage is still there, at its offset.
        var offset = nextBase
        var later: [LogRecord] = []
        while offset < log.endOffset {
            let result = try log.read(from: offset)
            later += try result.records()
            offset = result.nextOffset
        }
        #expect(later == all.filter { $0.offset >= nextBase })
        // The last segment is intact: appends go on.
        let appended = try store.append(to: "t", records: records(9000..<9001))
        #expect(appended.first?.offsets.lowerBound == all.last!.offset + 1)
        // Maintenance leaves a damaged log alone.
        _ = try store.maintain(ignoringDirtyRatio: true, now: Int64.max / 2)
        try store.close()
        #expect(Array(sizes(logs).prefix(logs.count - 1)) == Array(before.prefix(logs.count - 1)))
        #expect(try !StoreVerifier.verify(directory: dir).isSound)

        // The operator's repair: keep everything intact, quarantine the damaged file.
        let original = try Data(contentsOf: URL(fileURLWithPath: damaged))
        let repaired = try Reservoir.open(at: dir, options: repairing)
        let repairedLog = try repaired.log(topic: "t", partition: 0)
        #expect(repairedLog.openReport.repaired.map(\.firstOffset) == [range.firstOffset])
        let quarantined = try #require(repairedLog.openReport.quarantinedFiles.first)
        #expect(try Data(contentsOf: URL(fileURLWithPath: quarantined)) == original)
        #expect(repairedLog.damage.isEmpty)
        let (afterRepair, stillFailing) = readAll(repairedLog)
        #expect(stillFailing == nil)
        #expect(afterRepair.map(\.offset) == all.map(\.offset).filter { !range.contains($0) } + [all.last!.offset + 1])
        #expect(Array(afterRepair.dropLast()) == all.filter { !range.contains($0.offset) })
        try repaired.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("a flipped bit in a middle segment with the recovery point lost: kept; repair salvages every other batch of that segment")
    func bitFlipWithoutRecoveryPoint() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (all, logs) = try store(dir, segments: 6)
        let damaged = logs[2]
        let batches = try SegmentFileInspector.batches(inLogFile: damaged)
        let victim = batches[2]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        bytes[victim.position + 80] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: damaged))
        try FileManager.default.removeItem(atPath: dir + "/recovery-point-offset-checkpoint")
        try FileManager.default.removeItem(atPath: dir + "/.clean-shutdown")
        let before = sizes(logs)

        // Found by the first open's scan, and again after a clean close (whose next open scans
        // nothing but a segment marked damaged).
        for _ in 0..<2 {
            let store = try Reservoir.open(at: dir)
            let log = try store.log(topic: "t", partition: 0)
            let range = try #require(log.damage.first)
            #expect(range.firstOffset == victim.header!.baseOffset && range.bytePosition == victim.position)
            #expect(log.endOffset == all.last!.offset + 1)
            try store.close()
        }
        #expect(sizes(logs) == before)

        let store = try Reservoir.open(at: dir, options: repairing)
        let log = try store.log(topic: "t", partition: 0)
        let lost = victim.header!.baseOffset...victim.header!.lastOffset
        #expect(try allRecords(log) == all.filter { !lost.contains($0.offset) })
        try store.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("gaps between segments are damage: a segment deleted, only its .log deleted, or one cut at a batch boundary")
    func gaps() throws {
        let cases: [(String, (String, [String]) throws -> Void)] = [
            (
                "all files of a middle segment deleted",
                { _, logs in
                    for suffix in [".log", ".index", ".timeindex"] {
                        try FileManager.default.removeItem(atPath: logs[3].replacingOccurrences(of: ".log", with: suffix))
                    }
                }
            ),
            ("only the .log of a middle segment deleted", { _, logs in try FileManager.default.removeItem(atPath: logs[3]) }),
            (
                "a middle segment cut at a batch boundary",
                { _, logs in
                    let batches = try SegmentFileInspector.batches(inLogFile: logs[3])
                    let handle = try Foundation.FileHandle(forWritingTo: URL(fileURLWithPath: logs[3]))
                    try handle.truncate(atOffset: UInt64(batches[batches.count / 2].position))
                    try handle.close()
                }
            ),
        ]
        for (name, hurt) in cases {
            let dir = temporaryDirectory(name)
            defer { removeDirectory(dir) }
            let (all, logs) = try store(dir, segments: 6)
            try hurt(dir, logs)
            let report = try StoreVerifier.verify(directory: dir)
            #expect(!report.isSound, "\(name): verify says sound")
            #expect(report.problems.contains { $0.message.contains("are missing") }, "\(name): \(report.problems)")
            let store = try Reservoir.open(at: dir)
            let log = try store.log(topic: "t", partition: 0)
            let range = try #require(log.damage.first, "\(name)")
            #expect(range.kind == .missingOffsets && range.endOffset == base(of: logs[4]), "\(name)")
            let (read, error) = readAll(log)
            #expect(read == all.filter { $0.offset < range.firstOffset }, "\(name)")
            #expect(error?.message.contains("offset \(range.firstOffset)") == true, "\(name): \(String(describing: error))")
            try store.close()

            let repaired = try Reservoir.open(at: dir, options: repairing)
            #expect(try allRecords(repaired.log(topic: "t", partition: 0)) == all.filter { !range.contains($0.offset) }, "\(name)")
            try repaired.close()
            #expect(try StoreVerifier.verify(directory: dir).isSound, "\(name)")
        }
    }

    @Test(
        "a gap past the recovery point after an unclean stop is the unsynced tail (a roll before the previous segment reached the disk): cut there"
    )
    func unsyncedGapIsCut() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (all, logs) = try store(dir, segments: 5)
        // Segment 3's last batches never reached the disk, segment 4 (created by the roll) did.
        let batches = try SegmentFileInspector.batches(inLogFile: logs[3])
        let cut = batches[batches.count - 2]
        let handle = try Foundation.FileHandle(forWritingTo: URL(fileURLWithPath: logs[3]))
        try handle.truncate(atOffset: UInt64(cut.position))
        try handle.close()
        try FileManager.default.removeItem(atPath: dir + "/.clean-shutdown")
        // Durable only up to segment 3: the gap lies past the recovery point.
        try CheckpointFile(path: dir + "/recovery-point-offset-checkpoint").write([
            .init(topic: "t", partition: 0, offset: base(of: logs[3]))
        ])
        let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.damage.isEmpty)
        #expect(log.openReport.removedSegments == 1)
        #expect(!FileManager.default.fileExists(atPath: logs[4]))
        #expect(try allRecords(log) == all.filter { $0.offset < cut.header!.baseOffset })
        let appended = try store.append(to: "t", records: records(0..<1))
        #expect(appended.first?.offsets.lowerBound == cut.header!.baseOffset)
        try store.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("the end of a cleanly closed log missing: appends are refused (no offset is given twice) until repair, then continue after it")
    func missingEnd() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (all, logs) = try store(dir, segments: 4)
        let end = all.last!.offset + 1
        for suffix in [".log", ".index", ".timeindex"] {
            try FileManager.default.removeItem(atPath: logs[3].replacingOccurrences(of: ".log", with: suffix))
        }
        do {
            let store = try Reservoir.open(at: dir)
            let log = try store.log(topic: "t", partition: 0)
            #expect(log.damage.map(\.kind) == [.missingEnd])
            #expect(log.damage.first?.endOffset == end)
            #expect(throws: ReservoirError.self) { try store.append(to: "t", records: records(0..<1)) }
            try store.close()
        }
        #expect(try !StoreVerifier.verify(directory: dir).isSound)
        let store = try Reservoir.open(at: dir, options: repairing)
        let appended = try store.append(to: "t", records: records(0..<1))
        #expect(appended.first?.offsets.lowerBound == end)
        try store.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("the first segment missing below the checkpointed log start: reads fail until repair moves the start")
    func missingStart() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (all, logs) = try store(dir, segments: 4)
        try FileManager.default.removeItem(atPath: logs[0])
        do {
            let store = try Reservoir.open(at: dir)
            let log = try store.log(topic: "t", partition: 0)
            #expect(log.damage.map(\.kind) == [.missingStart])
            #expect(log.startOffset == 0)
            #expect(throws: ReservoirError.self) { try log.read(from: 0) }
            try store.close()
        }
        let store = try Reservoir.open(at: dir, options: repairing)
        let log = try store.log(topic: "t", partition: 0)
        #expect(log.startOffset == base(of: logs[1]))
        #expect(try allRecords(log) == all.filter { $0.offset >= base(of: logs[1]) })
        try store.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
    }

    @Test("verify finds no damage on sound stores: live, stopped uncleanly, preallocated, with empty partitions")
    func verifyIsQuietOnSoundStores() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir, options: .init(maintenanceIntervalMilliseconds: 0))
        try store.createTopic("empty", config: TopicConfig(partitions: 3))
        try store.createTopic("pre", config: TopicConfig(segmentBytes: 64 * 1024, indexIntervalBytes: 256, preallocateBytes: 32 * 1024))
        try store.createTopic("t", config: TopicConfig(partitions: 2, segmentBytes: 8 * 1024, indexIntervalBytes: 256))
        // Live, before any append: every active index is preallocated zeros.
        let live = try StoreVerifier.verify(directory: dir)
        #expect(live.isSound, "\(live.problems)")
        for i in 0..<40 {
            try store.append(to: "pre", records: records(i * 10..<(i + 1) * 10, size: 100), acks: .buffered)
            try store.append(to: "t", records: records(i * 10..<(i + 1) * 10, size: 100), acks: .buffered)
        }
        let writing = try StoreVerifier.verify(directory: dir)
        #expect(writing.isSound, "\(writing.problems)")
        #expect(writing.records == 800)
        // A copy taken now is what a crash leaves behind.
        let copy = dir + "-copy"
        defer { removeDirectory(copy) }
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        let unclean = try StoreVerifier.verify(directory: copy)
        #expect(unclean.isSound, "\(unclean.problems)")
        try store.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
        let reopened = try Reservoir.open(at: copy)
        #expect(
            reopened.topicNames.allSatisfy { name in
                (0..<((try? reopened.topic(name).config.partitions) ?? 0)).allSatisfy {
                    (try? reopened.log(topic: name, partition: $0).damage.isEmpty) == true
                }
            })
        try reopened.close()
        #expect(try StoreVerifier.verify(directory: copy).isSound)
    }
}

extension DamageTests {
    @Test(
        "a flipped bit in the last segment of a cleanly closed store: reads stop at it, verify reports it, repair salvages the batches after it"
    )
    func damagedLastSegment() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let (_, logs) = try store(dir, segments: 3)
        let last = logs[2]
        let all: [LogRecord]
        do {
            // Two more batches in the last segment.
            let store = try Reservoir.open(at: dir)
            try await store.append(to: "t", records: records(2000..<2010, size: 100))
            try await store.append(to: "t", records: records(2010..<2020, size: 100))
            all = try allRecords(store.log(topic: "t", partition: 0))
            try store.close()
        }
        let batches = try SegmentFileInspector.batches(inLogFile: last)
        try #require(batches.count >= 3)
        let victim = batches[1]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        bytes[victim.position + 70] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: last))
        let end = all.last!.offset + 1
        do {
            // A clean open checks headers and indexes, not every CRC (as Kafka's): the damage is
            // met by the first read of it, which fails naming where, and by verify.
            let store = try Reservoir.open(at: dir)
            let reader = try store.reader(topic: "t", partition: 0, from: .offset(victim.header!.baseOffset))
            var iterator = reader.makeAsyncIterator()
            do {
                _ = try await iterator.next()
                Issue.record("the damaged batch was read")
            } catch let error as ReservoirError {
                #expect(error.message.contains("offset \(victim.header!.baseOffset)") && error.message.contains(last), "\(error.message)")
            }
            try store.close()
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: last)) == bytes, "the damaged segment was changed")
        #expect(try !StoreVerifier.verify(directory: dir).isSound)
        let repaired = try Reservoir.open(at: dir, options: repairing)
        let lost = victim.header!.baseOffset...victim.header!.lastOffset
        let log = try repaired.log(topic: "t", partition: 0)
        #expect(try allRecords(log) == all.filter { !lost.contains($0.offset) })
        let appended = try await repaired.append(to: "t", records: records(0..<1))
        #expect(appended.first?.offsets.lowerBound == end)
        try repaired.close()
        #expect(try StoreVerifier.verify(directory: dir).isSound)
        // A second repair finds nothing to do.
        let again = try Reservoir.open(at: dir, options: repairing)
        #expect(try again.log(topic: "t", partition: 0).openReport.repaired.isEmpty)
        try again.close()
    }
}

extension CommandLineTests {
    @Test("verify --repair: reports, repairs, quarantines the damaged file and says sound; refused while the store is open")
    func verifyRepair() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        #expect(try run(["topic", "create", "t", "--dir", dir, "--segment-bytes", "4096"]).status == 0)
        #expect(
            try run(
                ["produce", "t", "--dir", dir, "--batch-records", "10"],
                input: (0..<400).map { "line-\($0)" }.joined(separator: "\n") + "\n"
            ).status == 0)
        let partition = dir + "/topics/t/0"
        let logs = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".log") }.sorted()
        let damaged = partition + "/" + logs[1]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: damaged))
        try handle.truncate(atOffset: 100)
        try handle.close()
        let report = try run(["verify", "--dir", dir])
        #expect(report.status == 1 && report.stdout.contains("damaged: \(damaged)") && report.stderr.contains("verify --repair"))
        do {
            let store = try Reservoir.open(at: dir)
            let busy = try run(["verify", "--dir", dir, "--repair"])
            #expect(busy.status == 1 && busy.stderr.contains("in use"))
            try store.close()
        }
        let repair = try run(["verify", "--dir", dir, "--repair"])
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        #expect(repair.stdout.contains("repaired: t partition 0") && repair.stdout.contains("quarantined: \(partition)/quarantine/"))
        #expect(repair.stdout.hasSuffix("sound\n"))
        #expect(try run(["verify", "--dir", dir]).status == 0)
        let consumed = try run(["consume", "t", "--dir", dir])
        #expect(consumed.status == 0 && consumed.stdout.hasSuffix("line-399\n"))
    }
}
