/// When a partition log fsyncs on its own, whatever each append asks for.
public enum FlushPolicy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Every append is durable before it returns, even appends that asked for `.buffered`.
    case always
    /// A background flush once this many records were appended since the last flush.
    case everyRecords(Int)
    /// A background flush at most this many milliseconds after unflushed data was appended.
    case everyMilliseconds(Int)
    /// Only on segment roll and close (Kafka's default; durable appends still fsync).
    case onRollAndClose

    /// The policy as the CLI's `--flush` and `topic.json` spell it.
    public var description: String {
        switch self {
        case .always: "durable"
        case .everyRecords(let count): "interval:\(count)"
        case .everyMilliseconds(let ms): "interval:\(ms)ms"
        case .onRollAndClose: "none"
        }
    }

    /// Parses `durable`, `interval:N`, `interval:Tms` or `none`.
    public init?(parsing text: String) {
        switch text {
        case "durable", "always": self = .always
        case "none": self = .onRollAndClose
        default:
            guard text.hasPrefix("interval:") else { return nil }
            let value = text.dropFirst("interval:".count)
            if value.hasSuffix("ms"), let ms = Int(value.dropLast(2)), ms > 0 {
                self = .everyMilliseconds(ms)
            } else if let count = Int(value), count > 0 {
                self = .everyRecords(count)
            } else {
                return nil
            }
        }
    }
}
