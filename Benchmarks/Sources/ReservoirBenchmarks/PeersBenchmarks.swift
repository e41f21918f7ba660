import BenchLMDB
import BenchSQLite
import Foundation
import Reservoir

/// Reservoir against the embedded stores a Swift user would otherwise pick, in the same process
/// and run, on the same records, rounds alternating:
///
/// - SQLite: WAL, a table `log(offset INTEGER PRIMARY KEY, ts, key, value)`, one prepared insert
///   per record and one transaction per batch; `synchronous=NORMAL` for buffered writes, `FULL`
///   for durable ones. Read back with `SELECT … ORDER BY offset`.
/// - LMDB: one write transaction per batch, records under their big-endian offset (`MDB_APPEND`),
///   the value holding the timestamp, key and value; `MDB_NOSYNC` for buffered writes, a synced
///   commit for durable ones. Read back with a cursor.
/// - Reservoir: `append(to:records:partition:acks:)` with `[Record]` batches, read back with
///   `PartitionLog.read` and `RecordDecoder.forEachRecord`.
///
/// Every reader touches each record's value (its length and first byte), as a consumer would.
enum PeersBenchmarks {
    struct Workload {
        var name: String
        var records: Int
        var valueSize: Int
        var batch: Int
        var durable: Bool
    }

    static let workloads = [
        Workload(name: "1 M × 100 B, 1000-record batches", records: 1_000_000, valueSize: 100, batch: 1000, durable: false),
        Workload(name: "200 K × 1 KiB, 1000-record batches", records: 200_000, valueSize: 1024, batch: 1000, durable: false),
        Workload(name: "durable: 200 K × 100 B, 100-record batches", records: 200_000, valueSize: 100, batch: 100, durable: true),
    ]

    enum Store: String, CaseIterable {
        case reservoir = "Reservoir"
        case sqlite = "SQLite"
        case lmdb = "LMDB"
    }

    static func run() throws {
        print("## Against SQLite and LMDB: the same records, the same run\n")
        print("| workload | store | writes records/s | reads records/s | Reservoir's writes ÷ this | Reservoir's reads ÷ this |")
        print("|---|---|---|---|---|---|")
        for workload in workloads {
            // A pool of distinct records, cycled: keys and values scattered over the heap as in an application.
            let pool = Harness.records(count: min(workload.records, 100_000), valueSize: workload.valueSize)
            let batches = stride(from: 0, to: workload.records, by: workload.batch).map { start in
                (start..<min(start + workload.batch, workload.records)).map { pool[$0 % pool.count] }
            }
            var writes: [Store: [Double]] = [:]
            var reads: [Store: [Double]] = [:]
            for _ in 0..<Harness.rounds {
                for store in Store.allCases {
                    let dir = Harness.freshDirectory("peers-\(store.rawValue)")
                    let (write, read) = try measure(store, workload: workload, batches: batches, directory: dir)
                    writes[store, default: []].append(write)
                    reads[store, default: []].append(read)
                    try? FileManager.default.removeItem(atPath: dir)
                }
            }
            let ours = Harness.median(writes[.reservoir] ?? [])
            let oursRead = Harness.median(reads[.reservoir] ?? [])
            for store in Store.allCases {
                let write = Harness.median(writes[store] ?? [])
                let read = Harness.median(reads[store] ?? [])
                let writeRatio = store == .reservoir ? "" : String(format: "%.1f×", ours / write)
                let readRatio = store == .reservoir ? "" : String(format: "%.1f×", oursRead / read)
                print(
                    "| \(workload.name) | \(store.rawValue) | \(Harness.format(write)) | \(Harness.format(read)) | \(writeRatio) | \(readRatio) |"
                )
            }
            if workload.durable {
                // The floor a durable append competes with: the same batch bytes written and
                // fdatasync'd, and Reservoir itself with no space prepared ahead (a growing file).
                let batchBytes = try encodedBatch(batches[0])
                var raw: [Double] = []
                var growing: [Double] = []
                for _ in 0..<Harness.rounds {
                    raw.append(Double(workload.records) / DurableBenchmarks.rawWriteSync(batchBytes, batches: batches.count))
                    let dir = Harness.freshDirectory("peers-growing")
                    growing.append(try reservoir(workload, batches, dir, preallocateBytes: -1).0)
                    try? FileManager.default.removeItem(atPath: dir)
                }
                print(
                    "| \(workload.name) | Reservoir, `preallocateBytes: -1` (growing file) | \(Harness.format(Harness.median(growing))) | | \(String(format: "%.2f×", ours / Harness.median(growing))) | |"
                )
                let rate = Harness.median(raw)
                print(
                    "| \(workload.name) | raw `write` + `fdatasync`, growing file | \(Harness.format(rate)) | | \(String(format: "%.2f×", ours / rate)) | |"
                )
            }
        }
        print("")
    }

    /// The bytes Reservoir writes for one batch (the raw loop writes the same).
    static func encodedBatch(_ records: [Record]) throws -> [UInt8] {
        let encoder = try RecordBatchEncoder()
        return try encoder.encodedBytes(records, defaultTimestamp: 0)
    }

    /// Writes every batch, then reads every record back in order: records/s for each.
    static func measure(_ store: Store, workload: Workload, batches: [[Record]], directory: String) throws -> (Double, Double) {
        switch store {
        case .reservoir: return try reservoir(workload, batches, directory)
        case .sqlite: return try sqlite(workload, batches, directory)
        case .lmdb: return try lmdb(workload, batches, directory)
        }
    }

    static func reservoir(_ workload: Workload, _ batches: [[Record]], _ directory: String, preallocateBytes: Int = Harness.preallocate)
        throws -> (Double, Double)
    {
        let store = try Reservoir.open(at: directory)
        defer { try? store.close() }
        try store.createTopic("t", config: TopicConfig(preallocateBytes: preallocateBytes))
        let acks: Acks = workload.durable ? .durable : .buffered
        let start = Harness.now()
        for batch in batches { try store.append(to: "t", records: batch, partition: 0, acks: acks) }
        let write = Double(workload.records) / (Harness.now() - start)
        let log = try store.log(topic: "t", partition: 0)
        var tally = FirstByteTally()
        let readTime = try Harness.readSequentially(log, into: &tally)
        let read = Double(tally.records) / readTime
        precondition(tally.records == workload.records && tally.touched > 0)
        return (write, read)
    }

    static func sqlite(_ workload: Workload, _ batches: [[Record]], _ directory: String) throws -> (Double, Double) {
        var db: OpaquePointer?
        guard
            sqlite3_open_v2(directory + "/log.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK
        else { throw BenchFailure("sqlite3_open_v2 failed") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                throw BenchFailure("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=\(workload.durable ? "FULL" : "NORMAL")")
        try exec("CREATE TABLE log(offset INTEGER PRIMARY KEY, ts INTEGER NOT NULL, key BLOB, value BLOB)")
        var insert: OpaquePointer?
        guard sqlite3_prepare_v2(db, "INSERT INTO log(offset, ts, key, value) VALUES(?, ?, ?, ?)", -1, &insert, nil) == SQLITE_OK else {
            throw BenchFailure("prepare: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(insert) }
        var offset: Int64 = 0
        let start = Harness.now()
        for batch in batches {
            try exec("BEGIN")
            for record in batch {
                sqlite3_bind_int64(insert, 1, offset)
                sqlite3_bind_int64(insert, 2, record.timestamp ?? 0)
                // The bound bytes only need to live until the step: SQLITE_STATIC (a nil destructor).
                let status = (record.key ?? []).withUnsafeBytes { key in
                    (record.value ?? []).withUnsafeBytes { value in
                        sqlite3_bind_blob(insert, 3, key.baseAddress, Int32(key.count), nil)
                        sqlite3_bind_blob(insert, 4, value.baseAddress, Int32(value.count), nil)
                        return sqlite3_step(insert)
                    }
                }
                guard status == SQLITE_DONE else { throw BenchFailure("insert: \(String(cString: sqlite3_errmsg(db)))") }
                sqlite3_reset(insert)
                offset += 1
            }
            try exec("COMMIT")
        }
        let write = Double(workload.records) / (Harness.now() - start)
        var select: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT ts, key, value FROM log ORDER BY offset", -1, &select, nil) == SQLITE_OK else {
            throw BenchFailure("prepare: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(select) }
        var seen = 0
        var touched = 0
        let readStart = Harness.now()
        while sqlite3_step(select) == SQLITE_ROW {
            let count = Int(sqlite3_column_bytes(select, 2))
            if let value = sqlite3_column_blob(select, 2) { touched &+= count &+ Int(value.load(as: UInt8.self)) }
            seen += 1
        }
        let read = Double(seen) / (Harness.now() - readStart)
        precondition(seen == workload.records && touched > 0)
        return (write, read)
    }

    static func lmdb(_ workload: Workload, _ batches: [[Record]], _ directory: String) throws -> (Double, Double) {
        var env: OpaquePointer?
        func check(_ status: Int32, _ what: String) throws {
            guard status == 0 else { throw BenchFailure("\(what): \(String(cString: mdb_strerror(status)))") }
        }
        try check(mdb_env_create(&env), "mdb_env_create")
        defer { mdb_env_close(env) }
        try check(mdb_env_set_mapsize(env, 8 << 30), "mdb_env_set_mapsize")
        try check(mdb_env_open(env, directory, UInt32(workload.durable ? 0 : MDB_NOSYNC), 0o644), "mdb_env_open")
        var dbi: MDB_dbi = 0
        var value = [UInt8]()
        var offset: UInt64 = 0
        let start = Harness.now()
        for batch in batches {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
            if offset == 0 { try check(mdb_dbi_open(txn, nil, 0, &dbi), "mdb_dbi_open") }
            for record in batch {
                // The value: timestamp, key length, key, value.
                value.removeAll(keepingCapacity: true)
                withUnsafeBytes(of: (record.timestamp ?? 0).bigEndian) { value.append(contentsOf: $0) }
                let key = record.key ?? []
                withUnsafeBytes(of: UInt32(key.count).bigEndian) { value.append(contentsOf: $0) }
                value.append(contentsOf: key)
                value.append(contentsOf: record.value ?? [])
                var keyBytes = offset.bigEndian
                let status = withUnsafeMutableBytes(of: &keyBytes) { keyBuffer in
                    value.withUnsafeMutableBytes { valueBuffer in
                        var k = MDB_val(mv_size: keyBuffer.count, mv_data: keyBuffer.baseAddress)
                        var v = MDB_val(mv_size: valueBuffer.count, mv_data: valueBuffer.baseAddress)
                        return mdb_put(txn, dbi, &k, &v, UInt32(MDB_APPEND))
                    }
                }
                try check(status, "mdb_put")
                offset += 1
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
        }
        let write = Double(workload.records) / (Harness.now() - start)
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var seen = 0
        var touched = 0
        var k = MDB_val()
        var v = MDB_val()
        let readStart = Harness.now()
        var status = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        while status == 0 {
            if let data = v.mv_data {
                let keyLength = Int(UInt32(bigEndian: data.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
                let valueStart = 12 + keyLength
                touched &+= (v.mv_size - valueStart) &+ Int(data.load(fromByteOffset: valueStart, as: UInt8.self))
            }
            seen += 1
            status = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        let read = Double(seen) / (Harness.now() - readStart)
        precondition(status == MDB_NOTFOUND && seen == workload.records && touched > 0)
        return (write, read)
    }
}

/// A peer library's failure, with what it said.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
