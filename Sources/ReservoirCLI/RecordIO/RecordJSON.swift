import ArgumentParser
import Reservoir

/// One record as a JSON line: the shape `consume --json` and `dump --records --json` print and
/// `produce --input json` reads, so that anything printed can be produced again.
///
/// `{"topic":"t","partition":0,"offset":5,"timestamp":1764000000000,"key":"k","keyEncoding":"utf8",
/// "value":"AAEC","valueEncoding":"base64","headers":[{"key":"h","value":"v","valueEncoding":"utf8"}]}`
///
/// A null key or value is `null` with no encoding; bytes that are valid UTF-8 are written as text
/// (`utf8`), others in the chosen binary encoding. `dump` adds `file` and `timestampType`, and
/// `control` (`COMMIT`, `ABORT`, KRaft's types) for the records of control batches.
enum RecordJSON {
    struct Fields {
        var file: String?
        var topic: String?
        var partition: Int?
        var offset: Int64
        var timestamp: Int64
        var timestampType: String?
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [RecordHeader]
        var control: ControlRecord?
    }

    static func line(_ fields: Fields, binary: BinaryEncoding) -> String {
        var out: [UInt8] = []
        write(fields, binary: binary, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the line of `fields` to `out`.
    static func write(_ fields: Fields, binary: BinaryEncoding, to out: inout [UInt8]) {
        Self.withOptionalBytes(fields.key) { key in
            Self.withOptionalBytes(fields.value) { value in
                write(
                    file: fields.file, topic: fields.topic, partition: fields.partition, offset: fields.offset,
                    timestamp: fields.timestamp, timestampType: fields.timestampType, control: fields.control, key: key,
                    value: value, headers: fields.headers, binary: binary, to: &out)
            }
        }
    }

    /// Writes the line of a record read in place (`consume --json`) to ``Output``: key and value
    /// go from the batch into the output buffer, escaped byte by byte, with no copy or string per
    /// record.
    ///
    /// `line` is what the lines of `partition` share (its start, and the numbers last written).
    static func writeToOutput(
        _ record: borrowing RecordView, topic: String, partition: Int, line: inout JSONLinePartition, binary: BinaryEncoding
    ) {
        if record.headerCount == 0 {
            let written = record.withKey { key in
                record.withValue { value in
                    writeText(line: &line, offset: record.offset, timestamp: record.timestamp, key: key, value: value)
                }
            }
            if written { return }
        }
        let headers = record.headerCount > 0 ? record.headers : []
        lineScratch.removeAll(keepingCapacity: true)
        record.withKey { key in
            record.withValue { value in
                write(
                    file: nil, topic: topic, partition: partition, offset: record.offset, timestamp: record.timestamp,
                    timestampType: nil, control: nil, key: key, value: value, headers: headers, binary: binary, to: &lineScratch)
            }
        }
        Output.write(bytes: lineScratch)
    }

    /// The line of a record without headers whose key and value are text (or null), written by
    /// ``JSONLineWriter`` straight into the output buffer; false, with nothing written, for any
    /// other record (or one too large for the buffer).
    private static func writeText(
        line: inout JSONLinePartition, offset: Int64, timestamp: Int64, key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?
    ) -> Bool {
        guard key.map(JSONText.isValidUTF8) ?? true, value.map(JSONText.isValidUTF8) ?? true else { return false }
        // The line's shared start stands in for the topic: it holds the topic, escaped, and more.
        let bound = JSONLineWriter.bound(topic: line.start.count, key: key?.count ?? 0, value: value?.count ?? 0)
        return Output.withSpace(bound) { start in
            start.distance(
                to: JSONLineWriter.write(&line, offset: offset, timestamp: timestamp, key: key, value: value, to: start))
        }
    }

    /// The lines of other records are built here, then copied out (used by the printing thread only).
    @exclusivity(unchecked) nonisolated(unsafe) private static var lineScratch: [UInt8] = []

    // The fixed parts of a line, as bytes once (appending a literal's UTF-8 view per record shows in profiles).
    private static let offsetLabel = Array("\"offset\":".utf8)
    private static let timestampLabel = Array(",\"timestamp\":".utf8)
    private static let topicLabel = Array("\"topic\":".utf8)
    private static let partitionLabel = Array("\"partition\":".utf8)
    private static let headersLabel = Array(",\"headers\":[".utf8)
    private static let lineEnd = Array("]}\n".utf8)
    private static let null = Array("null".utf8)
    private static let keyLabel = Array("\"key\":".utf8)
    private static let valueLabel = Array("\"value\":".utf8)
    private static let keyIsText = Array(",\"keyEncoding\":\"utf8\"".utf8)
    private static let valueIsText = Array(",\"valueEncoding\":\"utf8\"".utf8)

    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }

    // swift-format-ignore: FunctionParameterCount
    private static func write(
        file: String?, topic: String?, partition: Int?, offset: Int64, timestamp: Int64, timestampType: String?,
        control: ControlRecord?, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [RecordHeader],
        binary: BinaryEncoding, to out: inout [UInt8]
    ) {
        out.append(UInt8(ascii: "{"))
        if let file {
            out.append(contentsOf: "\"file\":".utf8)
            JSONText.writeString(file, to: &out)
            out.append(UInt8(ascii: ","))
        }
        if let topic {
            out.append(contentsOf: topicLabel)
            JSONText.writeString(topic, to: &out)
            out.append(UInt8(ascii: ","))
        }
        if let partition {
            out.append(contentsOf: partitionLabel)
            JSONText.writeDecimal(Int64(partition), to: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: offsetLabel)
        JSONText.writeDecimal(offset, to: &out)
        out.append(contentsOf: timestampLabel)
        JSONText.writeDecimal(timestamp, to: &out)
        if let timestampType { out.append(contentsOf: ",\"timestampType\":\"\(timestampType)\"".utf8) }
        if let control { out.append(contentsOf: ",\"control\":\"\(control)\"".utf8) }
        out.append(UInt8(ascii: ","))
        writeBytesField("key", key, binary: binary, to: &out)
        out.append(UInt8(ascii: ","))
        writeBytesField("value", value, binary: binary, to: &out)
        out.append(contentsOf: headersLabel)
        for (index, header) in headers.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"key\":".utf8)
            JSONText.writeString(header.key, to: &out)
            out.append(UInt8(ascii: ","))
            withOptionalBytes(header.value) { writeBytesField("value", $0, binary: binary, to: &out) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: lineEnd)
    }

    /// `"name":…` and, for bytes, `"nameEncoding":…` (legacy messages in `dump`).
    static func bytesField(_ name: String, _ bytes: [UInt8]?, binary: BinaryEncoding) -> String {
        var out: [UInt8] = []
        withOptionalBytes(bytes) { writeBytesField(name, $0, binary: binary, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `"name":…` and, for bytes, `"nameEncoding":…`: text when the bytes are valid UTF-8,
    /// else the binary encoding.
    private static func writeBytesField(_ name: String, _ bytes: UnsafeRawBufferPointer?, binary: BinaryEncoding, to out: inout [UInt8]) {
        let isKey = name == "key"
        if isKey || name == "value" {
            out.append(contentsOf: isKey ? keyLabel : valueLabel)
        } else {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: "\":".utf8)
        }
        guard let bytes else {
            out.append(contentsOf: null)
            return
        }
        if JSONText.isValidUTF8(bytes) {
            JSONText.writeString(bytes: bytes, to: &out)
            if isKey || name == "value" {
                out.append(contentsOf: isKey ? keyIsText : valueIsText)
            } else {
                out.append(contentsOf: ",\"\(name)Encoding\":\"utf8\"".utf8)
            }
            return
        }
        let array = Array(bytes)
        let encoded = binary == .base64 ? JSONText.base64(array) : JSONText.hex(array)
        out.append(contentsOf: "\"\(encoded)\",\"\(name)Encoding\":\"\(binary.rawValue)\"".utf8)
    }
}
