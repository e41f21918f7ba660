import Synchronization

/// A memory-mapped file of fixed-size entries, the storage under ``OffsetIndex`` and ``TimeIndex``.
///
/// A writable index is preallocated to its maximum size (sparse, so it costs no disk until used)
/// and mapped once, read-only; the mapping never moves, so readers can search it while the single
/// writer appends. The writer writes an entry with `pwrite` (never through the mapping: a store
/// into a sparse page on a full disk would kill the process with SIGBUS, where `pwrite` returns
/// ENOSPC), then publishes the new count with release ordering; readers load the count with
/// acquire ordering and touch only entries below it.
/// ``trim()`` cuts the file back to its entries, which is what makes a closed index
/// self-describing: on open, the file's length gives the entry count.
final class IndexFile: @unchecked Sendable {
    // Sendable by invariant: `region` and the capacity never change after init; entries below the
    // published count are immutable except through `truncate`, which only runs while the owning
    // log holds its lock and no reader can be positioned past the truncation point.
    let path: String
    let entrySize: Int
    let maxEntries: Int
    private let fileReference: ReopenableFile
    /// The index file, opened again if its descriptor was released.
    private var file: FileHandle { get throws(ReservoirError) { try fileReference.handle() } }
    private let region: MappedRegion?
    private let count: Atomic<Int>
    /// True when the file's length was not a whole number of entries (a torn or foreign file).
    let hadPartialEntry: Bool

    /// Opens or creates the index at `path`.
    /// - Parameter writable: preallocate to `maxBytes` and map for writing (the active segment).
    init(path: String, entrySize: Int, maxBytes: Int, writable: Bool) throws(ReservoirError) {
        self.path = path
        self.entrySize = entrySize
        let file = try FileHandle.open(path, writable: true, create: true)
        fileReference = ReopenableFile(file)
        let length = try file.size()
        hadPartialEntry = length % entrySize != 0
        let existing = length / entrySize
        let capacity: Int
        if writable {
            capacity = max(maxBytes / entrySize, existing) * entrySize
            if length != capacity { try file.truncate(to: capacity) }
        } else {
            capacity = existing * entrySize
        }
        maxEntries = capacity / entrySize
        region = capacity > 0 ? try MappedRegion(file: file, length: capacity, writable: false) : nil
        count = Atomic(existing)
    }

    /// Maps the index at `path` for a read-only process: nothing is created, written or
    /// truncated. Every whole entry of the file counts until ``limitForReading(entries:)`` says
    /// fewer are valid (an index another process writes is preallocated with zeros). A missing
    /// file is an empty index: an index only speeds up lookups.
    init(readingPath path: String, entrySize: Int) throws(ReservoirError) {
        self.path = path
        self.entrySize = entrySize
        guard FileSystem.exists(path) else {
            fileReference = ReopenableFile(path: path)
            region = nil
            maxEntries = 0
            hadPartialEntry = false
            count = Atomic(0)
            return
        }
        let file = try FileHandle.open(path, writable: false)
        let length = try file.size()
        hadPartialEntry = length % entrySize != 0
        maxEntries = length / entrySize
        region = maxEntries > 0 ? try MappedRegion(file: file, length: maxEntries * entrySize, writable: false) : nil
        count = Atomic(maxEntries)
        // Read through the mapping only: the descriptor goes at once.
        fileReference = ReopenableFile(path: path)
    }

    /// Counts only the first `entries` entries (a read-only process, from what the writer
    /// published or from its own validation).
    func limitForReading(entries: Int) {
        count.store(max(0, min(entries, maxEntries)), ordering: .releasing)
    }

    /// Entries published so far.
    var entryCount: Int { count.load(ordering: .acquiring) }
    var isFull: Bool { entryCount >= maxEntries }
    var sizeInBytes: Int { entryCount * entrySize }

    /// Safe: callers pass `index < entryCount`, and entries below the count lie inside the mapping.
    func entry(_ index: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(region.unsafelyUnwrapped.base + index * entrySize)
    }

    /// Appends one entry whose bytes `fill` stores. Callers check ``isFull`` first.
    ///
    /// - Throws: the write's error (a full disk); the entry is then not added, which only makes
    ///   lookups scan further, since an index is a rebuildable cache.
    func append(_ fill: (UnsafeMutableRawPointer) -> Void) throws(ReservoirError) {
        let index = count.load(ordering: .relaxed)
        precondition(index < maxEntries, "index \(path) is full")
        var entry: (UInt64, UInt64) = (0, 0)
        try withUnsafeMutableBytes(of: &entry) { (buffer) throws(ReservoirError) in
            // Safe: both index kinds have entries of at most 16 bytes.
            fill(buffer.baseAddress!)
            try file.write(UnsafeRawBufferPointer(rebasing: buffer[..<entrySize]), at: index * entrySize)
        }
        count.store(index + 1, ordering: .releasing)
    }

    /// Drops every entry from `index` on.
    func truncate(toEntries index: Int) {
        count.store(min(index, count.load(ordering: .relaxed)), ordering: .releasing)
    }

    /// Cuts the file to its entries (on roll and close).
    func trim() throws(ReservoirError) {
        try file.truncate(to: sizeInBytes)
    }

    /// Lets the descriptor go (the mapping stays); the next write, trim or sync opens the file again.
    func releaseDescriptor() {
        fileReference.release()
    }

    /// Writes the entries to stable storage.
    func sync() throws(ReservoirError) {
        try file.sync()
    }

    /// Binary search for the last entry whose key (read by `key`) is ≤ `target`; nil when none is.
    ///
    /// Searches the last 8 KiB of entries first, as Kafka does (KAFKA-6432): appenders and readers
    /// that keep up touch only the tail, so the pages a search probes stay resident.
    func lastEntry<Key: Comparable>(atOrBelow target: Key, key: (UnsafeRawPointer) -> Key) -> Int? {
        let entries = entryCount
        guard entries > 0, key(entry(0)) <= target else { return nil }
        let warm = max(1, 8192 / entrySize)
        var low = 0
        var high = entries - 1
        let firstWarm = max(0, entries - warm)
        if firstWarm > 0 && key(entry(firstWarm)) <= target { low = firstWarm } else if firstWarm > 0 { high = firstWarm }
        while low < high {
            let middle = (low + high + 1) / 2
            if key(entry(middle)) <= target { low = middle } else { high = middle - 1 }
        }
        return low
    }
}
