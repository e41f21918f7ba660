/// Topic name rules, Kafka's: letters, digits, `.`, `_` and `-`; 1 to 249 characters; not `.` or `..`.
enum TopicName {
    static let maxLength = 249

    static func validate(_ name: String) throws(ReservoirError) {
        guard !name.isEmpty else { throw ReservoirError(.invalidTopicName, "topic name is empty") }
        guard name != "." && name != ".." else {
            throw ReservoirError(.invalidTopicName, "topic name \"\(name)\" is invalid: '.' and '..' are reserved")
        }
        guard name.utf8.count <= maxLength else {
            throw ReservoirError(.invalidTopicName, "topic name is \(name.utf8.count) characters long: at most \(maxLength) are allowed")
        }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed else {
            throw ReservoirError(.invalidTopicName, "topic name \"\(name)\" is invalid: use letters, digits, '.', '_' and '-'")
        }
    }
}
