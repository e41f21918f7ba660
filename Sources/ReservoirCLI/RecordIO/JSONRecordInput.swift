import Foundation
import Reservoir

/// A record read from a JSON line in the shape `consume --json` prints (see ``RecordJSON``):
/// `key`/`value` with `keyEncoding`/`valueEncoding` (`utf8`, the default, `base64` or `hex`),
/// `null` for none (a null value is a tombstone), `headers` as `{"key", "value", "valueEncoding"}`
/// objects, and `partition` and `timestamp` when present. Other fields are ignored.
struct JSONRecordInput {
    var key: [UInt8]?
    var value: [UInt8]?
    var headers: [RecordHeader] = []
    var partition: Int?
    var timestamp: Int64?

    static func parse(_ line: ArraySlice<UInt8>, line number: Int) throws -> JSONRecordInput {
        func fail(_ why: String) -> CLIFailure { CLIFailure("line \(number): \(why)") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        func bytes(_ name: String, in object: [String: Any]) throws -> [UInt8]? {
            guard let raw = object[name], !(raw is NSNull) else { return nil }
            guard let text = raw as? String else { throw fail("\(name) must be a string or null") }
            switch object[name + "Encoding"] as? String ?? "utf8" {
            case "utf8": return Array(text.utf8)
            case "base64":
                guard let decoded = BinaryText.base64(ArraySlice(text.utf8)) else { throw fail("\(name) is not base64") }
                return decoded
            case "hex":
                guard let decoded = BinaryText.hex(ArraySlice(text.utf8)) else { throw fail("\(name) is not hex") }
                return decoded
            case let other:
                throw fail("\(name)Encoding must be utf8, base64 or hex, not \(other)")
            }
        }
        var record = JSONRecordInput()
        record.key = try bytes("key", in: object)
        record.value = try bytes("value", in: object)
        if let headers = object["headers"] {
            guard let list = headers as? [[String: Any]] else { throw fail("headers must be a list of {key, value} objects") }
            record.headers = try list.map { header in
                guard let name = header["key"] as? String else { throw fail("a header needs a string key") }
                return RecordHeader(name, try bytes("value", in: header))
            }
        }
        if let partition = object["partition"] {
            guard let number = partition as? Int, number >= 0 else { throw fail("partition must be a non-negative integer") }
            record.partition = number
        }
        if let timestamp = object["timestamp"] {
            guard let number = (timestamp as? NSNumber)?.int64Value else { throw fail("timestamp must be an integer") }
            record.timestamp = number
        }
        return record
    }
}
