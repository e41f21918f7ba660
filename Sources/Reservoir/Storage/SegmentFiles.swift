/// File names of a segment: the base offset as 20 zero-padded digits plus a suffix.
struct SegmentFiles: Sendable, Hashable {
    static let logSuffix = ".log"
    static let indexSuffix = ".index"
    static let timeIndexSuffix = ".timeindex"

    let directory: String
    let baseOffset: Int64

    static func name(of baseOffset: Int64) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    var stem: String { directory + "/" + Self.name(of: baseOffset) }
    var log: String { stem + Self.logSuffix }
    var index: String { stem + Self.indexSuffix }
    var timeIndex: String { stem + Self.timeIndexSuffix }
    /// Marks a segment whose log holds damage kept for the operator (see `DamagedRange`).
    var damagedMarker: String { stem + Self.damagedSuffix }
    static let damagedSuffix = ".damaged"

    /// The base offsets of the `.log` files in `directory`, ascending.
    static func logBaseOffsets(in directory: String) throws(ReservoirError) -> [Int64] {
        try FileSystem.list(directory).compactMap { name -> Int64? in
            guard let (base, suffix) = parse(name), suffix == logSuffix else { return nil }
            return base
        }.sorted()
    }

    /// The base offset and suffix of a file name like `00000000000000000042.log`, or nil.
    static func parse(_ fileName: String) -> (baseOffset: Int64, suffix: String)? {
        guard let dot = fileName.firstIndex(of: ".") else { return nil }
        let digits = fileName[..<dot]
        // Bases beyond half the offset space are not ones a log makes; refusing them keeps
        // `base + relative offset` from overflowing on a hostile file name.
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let base = Int64(digits),
            base <= Int64.max / 2
        else {
            return nil
        }
        return (base, String(fileName[dot...]))
    }
}

extension SegmentFiles {
    /// Removes the segment's three files.
    func removeAll() throws(ReservoirError) {
        try FileSystem.remove(log)
        try FileSystem.remove(index)
        try FileSystem.remove(timeIndex)
        try FileSystem.remove(damagedMarker)
    }
}

extension SegmentFiles {
    /// Suffix of a segment's files once removed from its log, until they are deleted.
    static let deletedSuffix = ".deleted"
    /// Suffix of a log file being written by the cleaner.
    static let cleanedSuffix = ".cleaned"
    /// Suffix of a cleaned log file that is complete and about to replace its segments.
    static let swapSuffix = ".swap"

    /// Renames the segment's files (those that exist) to their names plus `suffix`.
    func rename(addingSuffix suffix: String) throws(ReservoirError) {
        for path in [log, index, timeIndex] where FileSystem.exists(path) {
            try FileSystem.rename(path, to: path + suffix)
        }
    }

    /// Removes the segment's files named with `suffix`.
    func removeAll(suffix: String) throws(ReservoirError) {
        for path in [log, index, timeIndex] { try FileSystem.remove(path + suffix) }
    }
}
