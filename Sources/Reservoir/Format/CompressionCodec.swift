/// The compression codec of a record batch: bits 0-2 of its attributes.
public enum CompressionCodec: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// Whether this build can read and write the codec: all five of Kafka's.
    public var isSupported: Bool { true }

    /// The codec named `name` (`none`, `gzip`, `snappy`, `lz4`, `zstd`), or nil.
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = codec
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }
}
