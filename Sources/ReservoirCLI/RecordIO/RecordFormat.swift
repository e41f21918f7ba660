import Reservoir

/// A `consume --format` string, in the manner of kcat's `-f`: text with `%`-tokens that each
/// record fills in. `%v` value, `%k` key, `%t` topic, `%p` partition, `%o` offset, `%T` timestamp
/// (ms), `%h` headers (`k=v,k=v`), `%S` value size (`-1` for null), `%K` key size, `%%` a percent
/// sign; `\n`, `\t`, `\r` and `\0` escapes. A null key or value prints nothing.
struct RecordFormat {
    /// One piece of the format. Plain values (the text is a range of ``text``), so that walking
    /// the parts for each record counts no references.
    private enum Part {
        case text(start: Int, count: Int)
        case value, key, topic, partition, offset, timestamp, headers, valueSize, keySize
    }

    private let parts: [Part]
    /// The literal text of all the parts, back to back.
    private let text: [UInt8]
    private let showsHeaders: Bool
    /// The format is `%v\n` (the default): each value on a line of its own, written without
    /// walking the parts.
    private let isValuePerLine: Bool

    init(_ format: String) throws {
        var parts: [Part] = []
        var pool: [UInt8] = []
        var text: [UInt8] = []
        func flushText() {
            if !text.isEmpty { parts.append(.text(start: pool.count, count: text.count)) }
            pool += text
            text = []
        }
        var bytes = ProduceCommand.unescape(format).makeIterator()
        while let byte = bytes.next() {
            guard byte == UInt8(ascii: "%") else {
                text.append(byte)
                continue
            }
            guard let token = bytes.next() else { throw CLIFailure("--format ends with a lone %") }
            let part: Part
            switch token {
            case UInt8(ascii: "%"):
                text.append(token)
                continue
            case UInt8(ascii: "v"): part = .value
            case UInt8(ascii: "k"): part = .key
            case UInt8(ascii: "t"): part = .topic
            case UInt8(ascii: "p"): part = .partition
            case UInt8(ascii: "o"): part = .offset
            case UInt8(ascii: "T"): part = .timestamp
            case UInt8(ascii: "h"): part = .headers
            case UInt8(ascii: "S"): part = .valueSize
            case UInt8(ascii: "K"): part = .keySize
            default: throw CLIFailure("--format: unknown token %\(Character(Unicode.Scalar(token))) (known: %v %k %t %p %o %T %h %S %K %%)")
            }
            flushText()
            parts.append(part)
        }
        flushText()
        self.parts = parts
        self.text = pool
        self.showsHeaders = parts.contains { if case .headers = $0 { true } else { false } }
        if parts.count == 2, case .value = parts[0], pool == [UInt8(ascii: "\n")] {
            isValuePerLine = true
        } else {
            isValuePerLine = false
        }
    }

    /// Writes one record read in place to the output buffer: key and value are copied from the
    /// batch straight into the buffer, numbers written as digits, and headers decoded only when
    /// the format shows them, so that printing a record allocates nothing.
    @inline(__always)
    func write(_ record: borrowing RecordView, topic: String, partition: Int) {
        if isValuePerLine {
            record.withValue { Output.writeLine($0) }
        } else {
            writeParts(record, topic: topic, partition: partition)
        }
    }

    @inline(never)
    private func writeParts(_ record: borrowing RecordView, topic: String, partition: Int) {
        let (offset, timestamp) = (record.offset, record.timestamp)
        let headers = showsHeaders ? record.headers : []
        record.withKey { key in
            record.withValue { value in
                write(topic: topic, partition: partition, offset: offset, timestamp: timestamp, key: key, value: value, headers: headers)
            }
        }
    }

    /// Writes one record to the output buffer.
    func write(topic: String, partition: Int, offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader]) {
        Self.withBytes(key) { key in
            Self.withBytes(value) { value in
                write(topic: topic, partition: partition, offset: offset, timestamp: timestamp, key: key, value: value, headers: headers)
            }
        }
    }

    private static func withBytes(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Void) {
        guard let bytes else { return body(nil) }
        bytes.withUnsafeBytes { body($0) }
    }

    private func write(
        topic: String, partition: Int, offset: Int64, timestamp: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
        headers: [RecordHeader]
    ) {
        for part in parts {
            switch part {
            case .text(let start, let count):
                text.withUnsafeBytes { Output.write(raw: UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
            case .value: if let value { Output.write(raw: value) }
            case .key: if let key { Output.write(raw: key) }
            case .topic: Output.write(topic)
            case .partition: Output.write(decimal: Int64(partition))
            case .offset: Output.write(decimal: offset)
            case .timestamp: Output.write(decimal: timestamp)
            case .headers:
                for (index, header) in headers.enumerated() {
                    if index > 0 { Output.write(",") }
                    Output.write(header.key + "=")
                    if let value = header.value { Output.write(bytes: value) }
                }
            case .valueSize: Output.write(decimal: Int64(value?.count ?? -1))
            case .keySize: Output.write(decimal: Int64(key?.count ?? -1))
            }
        }
    }
}
