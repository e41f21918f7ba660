/// The compression codec of a record batch: bits 0-2 of its attributes.
public enum CompressionCodec: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// Whether this build can read and write the codec.
    public var isSupported: Bool { self == .none || self == .lz4 }

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
