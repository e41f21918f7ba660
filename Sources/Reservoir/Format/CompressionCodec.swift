/// The compression codec of a record batch: bits 0-2 of its attributes.
public enum CompressionCodec: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// No compression.
    case none = 0
    /// gzip (zlib's deflate with a gzip header).
    case gzip = 1
    /// Snappy, in the xerial framing Kafka's Java client writes.
    case snappy = 2
    /// LZ4 frames (liblz4).
    case lz4 = 3
    /// Zstandard.
    case zstd = 4

    /// Whether this build can read and write the codec: all five of Kafka's.
    public var isSupported: Bool { true }

    /// The codec named `name` (`none`, `gzip`, `snappy`, `lz4`, `zstd`), or nil.
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = codec
    }

    /// The codec's name as Kafka's settings spell it.
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
