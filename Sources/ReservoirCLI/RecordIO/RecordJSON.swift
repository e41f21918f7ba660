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
        var line = "{"
        if let file = fields.file { line += "\"file\":\(JSONText.string(file))," }
        if let topic = fields.topic { line += "\"topic\":\(JSONText.string(topic))," }
        if let partition = fields.partition { line += "\"partition\":\(partition)," }
        line += "\"offset\":\(fields.offset),\"timestamp\":\(fields.timestamp)"
        if let type = fields.timestampType { line += ",\"timestampType\":\"\(type)\"" }
        if let control = fields.control { line += ",\"control\":\"\(control)\"" }
        line += "," + bytesField("key", fields.key, binary: binary)
        line += "," + bytesField("value", fields.value, binary: binary)
        let headers = fields.headers.map { header in
            "{\"key\":\(JSONText.string(header.key))," + bytesField("value", header.value, binary: binary) + "}"
        }
        return line + ",\"headers\":[\(headers.joined(separator: ","))]}\n"
    }

    /// `"name":…` and, for bytes, `"nameEncoding":…`.
    static func bytesField(_ name: String, _ bytes: [UInt8]?, binary: BinaryEncoding) -> String {
        guard let bytes else { return "\"\(name)\":null" }
        if let text = String(validating: bytes, as: UTF8.self) {
            return "\"\(name)\":\(JSONText.string(text)),\"\(name)Encoding\":\"utf8\""
        }
        let encoded = binary == .base64 ? JSONText.base64(bytes) : JSONText.hex(bytes)
        return "\"\(name)\":\"\(encoded)\",\"\(name)Encoding\":\"\(binary.rawValue)\""
    }
}
