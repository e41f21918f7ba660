import Foundation
@testable import Reservoir

/// Options for stores whose maintenance runs only when a test asks.
let onDemandMaintenance = Reservoir.Options(maintenanceIntervalMilliseconds: 0)

/// Waits until every rolled segment of `log` has been fsync'd (the recovery point reached the
/// active segment), which compaction requires.
func waitForRolledSegmentsDurable(_ log: PartitionLog) throws {
    let deadline = Date().addingTimeInterval(10)
    while log.recoveryPoint < (log.segments.last?.baseOffset ?? 0) {
        guard Date() < deadline else { throw ReservoirError(.io, "rolled segments were not flushed in time") }
        usleep(2000)
    }
}

/// The records compaction must leave: the latest per key below `activeBase`, and everything from it on.
func compactedOracle(_ all: [LogRecord], activeBase: Int64) -> [LogRecord] {
    var latest: [[UInt8]: Int64] = [:]
    for record in all where record.offset < activeBase {
        if let key = record.key { latest[key] = record.offset }
    }
    return all.filter { $0.offset >= activeBase || ($0.key.map { latest[$0] } == $0.offset) }
}

func fileNames(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// The session timeout of group members in tests that are not about it: a loaded machine can
/// leave one member idle past the 45 s default while a test works with another.
let patientSessionMilliseconds = 600_000
