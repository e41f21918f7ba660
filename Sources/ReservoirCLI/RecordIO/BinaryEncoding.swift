import ArgumentParser
import Reservoir

/// How keys, values and header values that are not UTF-8 are written in JSON lines.
enum BinaryEncoding: String, ExpressibleByArgument, CaseIterable {
    case base64, hex
}
