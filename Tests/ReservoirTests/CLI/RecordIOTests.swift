import Foundation
import Testing
@testable import Reservoir

extension CommandLineTests {
    /// The records of a topic as the library reads them.
    func storedRecords(_ dir: String, _ topic: String) throws -> [LogRecord] {
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        return try allRecords(store.log(topic: topic, partition: 0))
    }

    @Test(
        "anything consume --json prints, produce --input json writes again: binary, newlines, nulls, headers, timestamps",
        arguments: BinaryEncodingCase.allCases)
    func jsonRoundTrip(binary: BinaryEncodingCase) throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        var random = SeededGenerator(seed: 42)
        let original: [Record] = (0..<300).map { n in
            let binaryValue = (0..<(n % 40)).map { _ in UInt8.random(in: 0...255, using: &random) }
            return Record(
                key: n % 6 == 0 ? nil : n % 6 == 1 ? [0, 0xff, 0xfe] : Array("k\n\(n)\t\"é\"".utf8),
                value: n % 5 == 0 ? nil : n % 5 == 1 ? binaryValue : Array("line one\nline two \(n) \\ \u{0}".utf8),
                headers: n % 3 == 0
                    ? [RecordHeader("h", [0x80, UInt8(n % 256)]), RecordHeader("none", nil), RecordHeader("t", "x\ny")] : [],
                timestamp: 1_700_000_000_000 + Int64(n))
        }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("source")
            try store.createTopic("copy")
            try store.append(to: "source", records: original, partition: 0)
            try store.close()
        }
        let consumed = try run(["consume", "source", "--dir", dir, "--json", "--binary", binary.rawValue])
        #expect(consumed.status == 0)
        #expect(consumed.stdout.contains("Encoding\":\"\(binary.rawValue)\""))
        let produced = try run(["produce", "copy", "--dir", dir, "--input", "json", "--partition", "0"], input: consumed.stdout)
        #expect(produced.status == 0, "\(produced.stderr)")
        let source = try storedRecords(dir, "source")
        let copy = try storedRecords(dir, "copy")
        #expect(source.count == 300)
        #expect(copy == source, "the copy differs")
        let again = try run(["consume", "copy", "--dir", dir, "--json", "--binary", binary.rawValue])
        #expect(again.stdout.replacingOccurrences(of: "\"topic\":\"copy\"", with: "\"topic\":\"source\"") == consumed.stdout)
    }

    enum BinaryEncodingCase: String, CaseIterable { case base64, hex }

    @Test("consume --json escapes text exactly: quotes, backslashes and control bytes at every position of a 16-byte run")
    func jsonEscapesExactly() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        // Each special byte after runs of 0 to 33 plain bytes, so that escapes land at every
        // position of the 16 bytes the writer tests at once, and runs end on either side of 16 and 32.
        let specials: [UInt8] = [0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x00, 0x01, 0x1F]
        var values: [[UInt8]] = []
        for run in 0...33 {
            for special in specials { values.append(Array(repeating: UInt8(ascii: "a"), count: run) + [special] + Array("tail".utf8)) }
        }
        // Runs dense with quotes and backslashes (several in one run of 16, both halves of it),
        // some with a control byte among them.
        var generator = SeededGenerator(seed: 7)
        let dense = Array("ab\"\\\"".utf8) + [0x0A, 0x01]
        for length in 16...80 {
            values.append((0..<length).map { _ in dense[Int.random(in: 0..<(length % 3 == 0 ? dense.count : 4), using: &generator)] })
        }
        values.append(Array("ünï€😀 \"quoted\" 0x7F:\u{7F}".utf8))
        values.append(Array(repeating: UInt8(ascii: "z"), count: 1000))
        values.append([])
        let records = values.enumerated().map { index, value in
            Record(key: index % 3 == 0 ? nil : Array("k\"\(index)".utf8), value: value, timestamp: 1_700_000_000_000 + Int64(index))
        }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t")
            try store.append(to: "t", records: records, partition: 0)
            try store.close()
        }
        // JSON strings as RFC 8259 and the record shape ask, written out independently of the tool.
        func quoted(_ bytes: [UInt8]) -> String {
            var text = "\""
            for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case "\n": text += "\\n"
                case "\r": text += "\\r"
                case "\t": text += "\\t"
                case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
                default: text.unicodeScalars.append(scalar)
                }
            }
            return text + "\""
        }
        let expected = records.enumerated().map { offset, record in
            let key = record.key.map { quoted($0) + ",\"keyEncoding\":\"utf8\"" } ?? "null"
            return "{\"topic\":\"t\",\"partition\":0,\"offset\":\(offset),\"timestamp\":\(record.timestamp!),\"key\":\(key),"
                + "\"value\":\(quoted(record.value!)),\"valueEncoding\":\"utf8\",\"headers\":[]}\n"
        }.joined()
        let consumed = try run(["consume", "t", "--dir", dir, "--json"])
        #expect(consumed.status == 0)
        #expect(consumed.stdout == expected)
    }

    @Test("consume --json writes each partition's lines with its own topic, partition and numbers: carries, jumps, negative timestamps")
    func jsonLinesAcrossPartitions() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        // Timestamps that step by 0 to 9 (written by adding to the last one's digits) and by more,
        // carry into a thirteenth digit, fall back and go below zero; offsets that carry into a
        // fourth digit; a record with a header between (written by the general writer) in
        // partition 1.
        var timestamps: [Int64] = (0..<1200).map { 999_999_999_990 + Int64($0 % 7) * Int64($0 / 7) }
        timestamps[600] = 5
        timestamps[601] = -12
        timestamps[602] = -3
        var expected: [Int: [String]] = [:]
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t.q-1", config: TopicConfig(partitions: 3))
            for partition in 0..<3 {
                let count = [1005, 12, 300][partition]
                let records = (0..<count).map { index in
                    Record(
                        key: index % 4 == 0 ? nil : Array("k\(index)".utf8), value: Array("v\(partition)-\(index)".utf8),
                        headers: partition == 1 && index == 5 ? [RecordHeader("h", "x")] : [], timestamp: timestamps[index])
                }
                try store.append(to: "t.q-1", records: records, partition: partition)
                expected[partition] = records.enumerated().map { offset, record in
                    let key = record.key.map { "\"\(String(decoding: $0, as: UTF8.self))\",\"keyEncoding\":\"utf8\"" } ?? "null"
                    let headers = record.headers.isEmpty ? "" : "{\"key\":\"h\",\"value\":\"x\",\"valueEncoding\":\"utf8\"}"
                    return "{\"topic\":\"t.q-1\",\"partition\":\(partition),\"offset\":\(offset),\"timestamp\":\(record.timestamp!),"
                        + "\"key\":\(key),\"value\":\"v\(partition)-\(offset)\",\"valueEncoding\":\"utf8\",\"headers\":[\(headers)]}"
                }
            }
            try store.close()
        }
        let consumed = try run(["consume", "t.q-1", "--dir", dir, "--json"])
        #expect(consumed.status == 0, "\(consumed.stderr)")
        let lines = consumed.stdout.split(separator: "\n").map(String.init)
        #expect(lines == (0..<3).flatMap { expected[$0] ?? [] })
    }

    @Test("produce splits text lines in place: a separator of several bytes, its first byte earlier in the line, CRLF, empty lines")
    func produceSplitsTextLines() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let input = "a:b::c\r\nno separator\n::only value\n\nkey::\nx::y::z\n"
        let produced = try run(["produce", "t", "--dir", dir, "--create", "--key-separator", "::", "--partition", "0"], input: input)
        #expect(produced.status == 0, "\(produced.stderr)")
        let stored = try storedRecords(dir, "t").map { record in
            (record.key.map { String(decoding: $0, as: UTF8.self) }, record.value.map { String(decoding: $0, as: UTF8.self) })
        }
        let expected: [(String?, String?)] = [
            ("a:b", "c"), (nil, "no separator"), ("", "only value"), (nil, ""), ("key", ""), ("x", "y::z"),
        ]
        #expect(stored.count == expected.count)
        for (got, want) in zip(stored, expected) {
            #expect(got.0 == want.0 && got.1 == want.1, "\(got) is not \(want)")
        }
    }

    @Test("produce reads values holding newlines (--delimiter), base64 and hex text, and empty values as tombstones")
    func produceInputs() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        #expect(try run(["topic", "create", "t", "--dir", dir]).status == 0)
        #expect(
            try run(["produce", "t", "--dir", dir, "--delimiter", "\\0", "--partition", "0"], input: "one\ntwo\u{0}three\u{0}").status == 0)
        #expect(
            try run(
                ["produce", "t", "--dir", dir, "--encoding", "base64", "--key-separator", ":", "--partition", "0"],
                input: "AAE=:/w==\n"
            ).status == 0)
        #expect(
            try run(
                ["produce", "t", "--dir", dir, "--encoding", "hex", "--key-separator", ":", "--partition", "0", "--empty-is-null"],
                input: "6b31:\n6b32:00ff\n"
            ).status == 0)
        let bad = try run(["produce", "t", "--dir", dir, "--encoding", "hex"], input: "zz\n")
        #expect(bad.status == 1 && bad.stderr.contains("not hex"))
        let records = try storedRecords(dir, "t")
        #expect(records.map(\.value) == [Array("one\ntwo".utf8), Array("three".utf8), [0xff], nil, [0x00, 0xff]])
        #expect(records.map(\.key) == [nil, nil, [0, 1], Array("k1".utf8), Array("k2".utf8)])
    }

    @Test("--dir goes before or after the subcommand, everywhere")
    func globalDirectory() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        #expect(try run(["--dir", dir, "topic", "create", "t"]).status == 0)
        #expect(try run(["--dir=\(dir)", "produce", "t"], input: "a\n").status == 0)
        #expect(try run(["--dir", dir, "consume", "t"]).stdout == "a\n")
        #expect(try run(["topic", "list", "--dir", dir]).stdout == "t\n")
        // The one after the subcommand wins.
        #expect(try run(["--dir", dir + "-elsewhere", "consume", "t", "--dir", dir]).stdout == "a\n")
    }

    @Test(
        "dump --records shows headers, keys and values with their encoding, timestamp types and control records, with the file on every JSON line"
    )
    func dumpShowsEverything() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t")
            try store.append(to: "t", records: [Record(key: [0xff], value: Array("v".utf8), headers: [RecordHeader("trace", "abc")])])
            try store.close()
        }
        let log = dir + "/topics/t/0/00000000000000000000.log"
        let dump = try run(["dump", log, "--records", "--json"])
        #expect(dump.status == 0)
        let lines = dump.stdout.split(separator: "\n")
        #expect(lines.allSatisfy { $0.contains("\"file\":\"\(log)\"") })
        #expect(lines.last?.contains("\"key\":\"/w==\",\"keyEncoding\":\"base64\"") == true)
        #expect(lines.last?.contains("\"headers\":[{\"key\":\"trace\",\"value\":\"abc\",\"valueEncoding\":\"utf8\"}]") == true)
        #expect(lines.last?.contains("\"timestampType\":\"CreateTime\"") == true)
        // The broker segments' control batches show as what they are.
        if let metadata = ExternalSegments.all.first(where: { $0.contains("__cluster_metadata") }) {
            let kraft = try run(["dump", metadata, "--records", "--json"])
            #expect(
                kraft.stdout.contains("\"control\":\"LEADER_CHANGE\"") || kraft.stdout.contains("\"control\":\"SNAPSHOT_HEADER\"")
                    || kraft.stdout.contains("\"control\":\"KRAFT_VERSION\""), "no control record shown")
        }
        if let appendTime = ExternalSegments.all.first(where: { $0.contains("monitoring-message-rekey") }) {
            #expect(try run(["dump", appendTime, "--records", "--json"]).stdout.contains("\"timestampType\":\"LogAppendTime\""))
        }
    }
}

extension CommandLineTests {
    @Test("legacy messages (magic 0 and 1, plain and compressed) are decoded by dump and the scan goes on to the batches after them")
    func legacyMessages() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/legacy.log"
        let expected = try Oracle.run("encode_legacy.py", [path]).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(expected.count == 12)
        let dump = try run(["dump", path, "--records", "--json", "--binary", "hex"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let lines = dump.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let plain = lines.filter { $0["legacyMagic"] != nil && $0["note"] == nil }
        #expect(plain.map { ($0["offset"] as? NSNumber)?.int64Value } == expected.map { ($0["offset"] as? NSNumber)?.int64Value })
        #expect(plain.map { $0["legacyMagic"] as? Int } == expected.map { $0["magic"] as? Int })
        #expect(
            plain.map { $0["value"] as? String }
                == expected.map { Fixtures.hexBytes($0["value"] as? String ?? "") }.map { String(decoding: $0, as: UTF8.self) })
        #expect(
            plain.map { $0["key"] as? String }
                == expected.map { ($0["key"] as? String).map { String(decoding: Fixtures.hexBytes($0), as: UTF8.self) } })
        #expect(lines.allSatisfy { ($0["crcValid"] as? Bool) != false })
        // The record batch after them.
        #expect(lines.contains { $0["offset"] as? Int == 12 && $0["value"] as? String == "after the legacy messages" })
    }
}

extension CommandLineTests {
    @Test("consume --format prints records as a kcat-style format string says")
    func consumeFormat() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try Reservoir.open(at: dir)
            try store.createTopic("t")
            try store.append(
                to: "t",
                records: [
                    Record(
                        key: Array("k1".utf8), value: Array("v1".utf8), headers: [RecordHeader("a", "1"), RecordHeader("b", "2")],
                        timestamp: 1000),
                    Record(key: nil, value: nil, timestamp: 2000),
                ])
            try store.close()
        }
        let formatted = try run(["consume", "t", "--dir", dir, "--format", "%t/%p@%o %T [%k=%v] {%h} %K %S 100%%\\n"])
        #expect(formatted.status == 0)
        #expect(formatted.stdout == "t/0@0 1000 [k1=v1] {a=1,b=2} 2 2 100%\nt/0@1 2000 [=] {} -1 -1 100%\n")
        #expect(try run(["consume", "t", "--dir", dir]).stdout == "v1\n\n")
        let bad = try run(["consume", "t", "--dir", dir, "--format", "%q"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown token %q"))
    }
}

@Suite("Appending text: String keys and values, tombstones")
struct TextAppendTests {
    @Test("String keys and values through the store and the builder; a nil value is a tombstone")
    func stringAppends() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        try store.createTopic("t")
        try await store.append(to: "t", key: "user-1", value: "hello", partition: 0)
        try await store.append(to: "t", key: "user-1", value: nil, partition: 0)
        let builder = try store.makeBatchBuilder(for: "t")
        try builder.append(key: "user-2", value: "hi")
        try builder.append(key: "user-2", value: nil)
        try await store.append(to: "t", batch: builder, partition: 0)
        let records = try allRecords(store.log(topic: "t", partition: 0))
        #expect(records.map(\.key) == ["user-1", "user-1", "user-2", "user-2"].map { Array($0.utf8) })
        #expect(records.map(\.value) == [Array("hello".utf8), nil, Array("hi".utf8), nil])
        try store.close()
    }
}
