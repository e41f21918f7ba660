#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CReservoirSystem
import Synchronization

/// The store's live state (`<root>/.live`), shared through a memory mapping between the process
/// that writes the store and any number of read-only processes.
///
/// The writer publishes, per partition, where its log ends (written and durable), where it starts,
/// how far the active segment and its indexes reach, and a layout generation that changes when
/// segments come and go. Readers map the same file, read those values without any lock (a
/// sequence number per slot, as a seqlock, makes each read consistent) and sleep on a futex in the
/// header until the writer changes something. The writer never waits for a reader: it takes no
/// lock a reader holds, and wakes sleepers only when one has said it sleeps.
///
/// The file is runtime state, never a source of truth: a writer resets it at open, and readers
/// trust it only while the writer that wrote it is alive (it holds an open-file-description lock
/// on the file's first byte, which the kernel drops when the process dies). Values are in the
/// machine's byte order: the file never leaves the machine.
///
/// Layout: a 4096-byte header, then `slotCapacity` slots of 512 bytes, one per partition, named by
/// topic and partition number (see `Header` and `SlotField`).
final class LiveStateFile: @unchecked Sendable {
    // Sendable by invariant: the mapping never moves or shrinks while this object lives; every
    // shared word is read and written with atomic operations; slot allocation in the writer is
    // behind `allocation`.
    static let fileName = ".live"
    static let magic: UInt64 = 0x5253_564C_4956_4531  // "RSVLIVE1"
    static let version: UInt32 = 1
    static let headerBytes = 4096
    static let slotBytes = 512
    static let slotCapacity = 16384
    static var fileBytes: Int { headerBytes + slotBytes * slotCapacity }

    /// Byte offsets in the header.
    enum Header {
        static let magic = 0
        static let version = 8
        static let writerPid = 16
        /// A random id of the writer's session, 0 while no writer has the store.
        static let instance = 24
        /// Bumped after every published change: the word readers sleep on.
        static let changes = 32
        /// Readers sleeping (or about to) on `changes`: the writer wakes them only when nonzero.
        static let waiters = 36
        /// Bumped when partitions are added or removed (topics created, grown or deleted).
        static let topicsGeneration = 40
        static let slotsUsed = 48
    }

    /// Byte offsets in a slot.
    enum SlotField {
        /// 1 while the slot names a partition of the store.
        static let state = 0
        static let partition = 4
        static let nameLength = 8
        static let name = 10
        static let sequence = 272
        static let values = 280
    }

    let path: String
    let isWriter: Bool
    private let file: FileHandle
    private let region: MappedRegion
    /// Readers that cannot write the file sleep in short steps instead of registering.
    private let canRegister: Bool
    /// The writer's slots, by partition, as their byte offsets (allocation and reuse happen under
    /// this lock). Offsets, not slots: a slot holds its file, which must not hold it back.
    private let allocation = Mutex<[TopicPartition: Int]>([:])

    private init(path: String, file: FileHandle, region: MappedRegion, isWriter: Bool, canRegister: Bool) {
        self.path = path
        self.file = file
        self.region = region
        self.isWriter = isWriter
        self.canRegister = canRegister
    }

    // MARK: Shared words

    func pointer64(_ offset: Int) -> UnsafeMutablePointer<UInt64> {
        // Safe: every offset passed lies inside the fixed-size mapping and is 8-byte aligned.
        (region.base + offset).assumingMemoryBound(to: UInt64.self)
    }

    func pointer32(_ offset: Int) -> UnsafeMutablePointer<UInt32> {
        (region.base + offset).assumingMemoryBound(to: UInt32.self)
    }

    func load64(_ offset: Int) -> UInt64 { reservoir_load_acquire_u64(pointer64(offset)) }
    func store64(_ offset: Int, _ value: UInt64) { reservoir_store_release_u64(pointer64(offset), value) }
    func load32(_ offset: Int) -> UInt32 { reservoir_load_acquire_u32(pointer32(offset)) }
    func store32(_ offset: Int, _ value: UInt32) { reservoir_store_release_u32(pointer32(offset), value) }

    static func slotOffset(_ index: Int) -> Int { headerBytes + index * slotBytes }

    // MARK: Writer

    /// Opens (creating when missing) the live state of the store at `root` for its writer, which
    /// holds the store's lock: clears what a previous writer left and starts a new session.
    static func openForWriting(root: String) throws(ReservoirError) -> LiveStateFile {
        let path = root + "/" + fileName
        let file = try FileHandle.open(path, writable: true, create: true)
        // Grown, never shrunk: a reader may still map the whole length.
        if try file.size() < fileBytes { try file.truncate(to: fileBytes) }
        let region = try MappedRegion(file: file, length: fileBytes, writable: true)
        let live = LiveStateFile(path: path, file: file, region: region, isWriter: true, canRegister: true)
        guard reservoir_ofd_lock(file.descriptor) == 0 else {
            throw .io("lock", path: path, errno: errno)
        }
        live.store64(Header.instance, 0)
        let valid = live.load64(Header.magic) == magic && live.load32(Header.version) == version
        let used = valid ? min(Int(live.load32(Header.slotsUsed)), slotCapacity) : 0
        for index in 0..<used { live.store32(slotOffset(index) + SlotField.state, 0) }
        live.store32(Header.slotsUsed, 0)
        // The version first: a reader that sees the magic may trust the version beside it.
        live.store32(Header.version, version)
        live.store64(Header.magic, magic)
        live.store32(Header.writerPid, UInt32(truncatingIfNeeded: getpid()))
        live.store64(Header.topicsGeneration, live.load64(Header.topicsGeneration) &+ 1)
        var instance: UInt64 = 0
        while instance == 0 { instance = UInt64.random(in: 1...UInt64.max) }
        live.store64(Header.instance, instance)
        live.notifyChange()
        return live
    }

    /// The slot of `partition`, allocated (or reused after a deleted topic) on first use.
    /// Nil when every slot is taken: that partition is then not published, and read-only
    /// processes report it.
    func slot(for partition: TopicPartition) -> LiveSlot? {
        precondition(isWriter, "only the writer allocates slots")
        return allocation.withLock { slots -> LiveSlot? in
            if let existing = slots[partition] { return LiveSlot(file: self, offset: existing) }
            let used = Int(load32(Header.slotsUsed))
            var index = used
            if used >= Self.slotCapacity {
                guard let free = (0..<used).first(where: { load32(Self.slotOffset($0) + SlotField.state) == 0 }) else { return nil }
                index = free
            }
            let base = Self.slotOffset(index)
            let name = Array(partition.topic.utf8.prefix(255))
            store32(base + SlotField.partition, UInt32(truncatingIfNeeded: partition.partition))
            (region.base + base + SlotField.nameLength).storeBytes(of: UInt16(name.count), as: UInt16.self)
            name.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress { (region.base + base + SlotField.name).copyMemory(from: source, byteCount: name.count) }
            }
            let slot = LiveSlot(file: self, offset: base)
            slot.reset()
            store32(base + SlotField.state, 1)
            if index == used { store32(Header.slotsUsed, UInt32(used + 1)) }
            slots[partition] = base
            store64(Header.topicsGeneration, load64(Header.topicsGeneration) &+ 1)
            notifyChange()
            return slot
        }
    }

    /// Frees the slot of a deleted partition.
    func releaseSlot(for partition: TopicPartition) {
        allocation.withLock { slots in
            guard let offset = slots.removeValue(forKey: partition) else { return }
            store32(offset + SlotField.state, 0)
            store64(Header.topicsGeneration, load64(Header.topicsGeneration) &+ 1)
            notifyChange()
        }
    }

    /// Tells readers that topics were created, grown or deleted (after their files say so).
    func topicsChanged() {
        store64(Header.topicsGeneration, load64(Header.topicsGeneration) &+ 1)
        notifyChange()
    }

    /// Tells sleeping readers that something changed.
    func notifyChange() {
        _ = reservoir_fetch_add_u32(pointer32(Header.changes), 1)
        if reservoir_load_acquire_u32(pointer32(Header.waiters)) > 0 { _ = reservoir_futex_wake_all(pointer32(Header.changes)) }
    }

    /// Ends the writer's session (the store closed): readers then read the files as they are.
    func closeWriter() {
        store64(Header.instance, 0)
        notifyChange()
        _ = reservoir_ofd_unlock(file.descriptor)
    }

    // MARK: Reader

    /// Maps the live state of the store at `root` for a read-only process; nil when the store
    /// has none (no writer has opened it since it was created by an older version).
    static func openForReading(root: String) throws(ReservoirError) -> LiveStateFile? {
        let path = root + "/" + fileName
        guard FileSystem.exists(path) else { return nil }
        var writable = true
        let file: FileHandle
        do throws(ReservoirError) {
            file = try FileHandle.open(path, writable: true)
        } catch {
            // A reader without write permission still reads; it sleeps in steps instead.
            writable = false
            file = try FileHandle.open(path, writable: false)
        }
        guard try file.size() >= fileBytes else { return nil }
        let region = try MappedRegion(file: file, length: fileBytes, writable: writable)
        let live = LiveStateFile(path: path, file: file, region: region, isWriter: false, canRegister: writable)
        guard live.load64(Header.magic) == magic else { return nil }
        guard live.load32(Header.version) == version else {
            throw ReservoirError(
                .unsupportedFormat, "\(path) has live-state version \(live.load32(Header.version)); this version reads \(version)")
        }
        return live
    }

    /// The writer's session id, 0 when none has the store.
    var instance: UInt64 { load64(Header.instance) }
    var changes: UInt32 { load32(Header.changes) }
    var topicsGeneration: UInt64 { load64(Header.topicsGeneration) }
    var writerPid: Int32 { Int32(truncatingIfNeeded: load32(Header.writerPid)) }

    /// Whether a writer has the store now: it started a session and its process still holds
    /// the file's lock (a writer killed mid-session leaves its values, not its lock).
    var writerIsLive: Bool {
        instance != 0 && reservoir_ofd_lock_held(file.descriptor) == 1
    }

    /// The slot the writer publishes `partition` in, nil when it publishes none.
    func findSlot(for partition: TopicPartition) -> LiveSlot? {
        let used = min(Int(load32(Header.slotsUsed)), Self.slotCapacity)
        let wanted = Array(partition.topic.utf8)
        for index in 0..<used {
            let base = Self.slotOffset(index)
            guard load32(base + SlotField.state) == 1,
                Int32(truncatingIfNeeded: load32(base + SlotField.partition)) == Int32(truncatingIfNeeded: partition.partition)
            else { continue }
            // Bounded by the slot's name field whatever the file says.
            let length = Int((region.base + base + SlotField.nameLength).load(as: UInt16.self))
            guard length == wanted.count, length <= 255 else { continue }
            let name = UnsafeRawBufferPointer(start: region.base + base + SlotField.name, count: length)
            if name.elementsEqual(wanted) { return LiveSlot(file: self, offset: base) }
        }
        return nil
    }

    /// Sleeps until the writer publishes a change after `seen` (a value of ``changes``), at most
    /// `milliseconds`.
    func waitForChange(after seen: UInt32, milliseconds: Int) {
        guard canRegister else {
            _ = reservoir_futex_wait(pointer32(Header.changes), seen, Int64(min(milliseconds, 50)))
            return
        }
        _ = reservoir_fetch_add_u32(pointer32(Header.waiters), 1)
        // Registered before the check: a writer that changes the word after it sees the waiter.
        if reservoir_load_acquire_u32(pointer32(Header.changes)) == seen {
            _ = reservoir_futex_wait(pointer32(Header.changes), seen, Int64(milliseconds))
        }
        _ = reservoir_fetch_add_u32(pointer32(Header.waiters), UInt32.max)
    }
}

/// One partition's published values in the live-state file (see ``LiveStateFile``).
final class LiveSlot: @unchecked Sendable {
    // Sendable by invariant: the writer's updates are serialised by `writer`; readers only load.
    let file: LiveStateFile
    let offset: Int
    private let writer = Mutex<Values>(Values())

    /// What the writer publishes for one partition.
    struct Values: Sendable, Equatable {
        /// The offset the next record gets.
        var writtenEnd: Int64 = 0
        /// Offsets below this are fsync'd.
        var durableEnd: Int64 = 0
        var logStart: Int64 = 0
        /// The active segment's base offset and published bytes.
        var activeBase: Int64 = 0
        var activeBytes: Int64 = 0
        /// Entries of the active segment's offset and time indexes.
        var activeIndexEntries: Int64 = 0
        var activeTimeIndexEntries: Int64 = 0
        /// Odd while segments are being added, removed or replaced; changes with each such change.
        var layout: Int64 = 0
    }

    init(file: LiveStateFile, offset: Int) {
        self.file = file
        self.offset = offset
    }

    /// Zeroes the values of a newly allocated slot.
    func reset() {
        writer.withLock { values in
            values = Values()
            write(values)
        }
    }

    /// Changes the published values (the writer only) and wakes sleeping readers.
    func publish(_ change: (inout Values) -> Void) {
        let changed = writer.withLock { values -> Bool in
            let before = values
            change(&values)
            guard values != before else { return false }
            write(values)
            return true
        }
        if changed { file.notifyChange() }
    }

    /// Marks the start of a change to the segments (the generation turns odd): readers keep the
    /// segments they have until ``endLayoutChange()``.
    func beginLayoutChange() {
        publish { values in if values.layout & 1 == 0 { values.layout &+= 1 } }
    }

    /// Marks the end of a change to the segments (the generation turns even and new).
    func endLayoutChange() {
        publish { values in values.layout &+= values.layout & 1 == 1 ? 1 : 2 }
    }

    private func field(_ index: Int) -> Int { offset + LiveStateFile.SlotField.values + 8 * index }

    private func write(_ values: Values) {
        let sequence = file.load64(offset + LiveStateFile.SlotField.sequence)
        file.store64(offset + LiveStateFile.SlotField.sequence, sequence &+ 1)
        reservoir_fence()
        file.store64(field(0), UInt64(bitPattern: values.writtenEnd))
        file.store64(field(1), UInt64(bitPattern: values.durableEnd))
        file.store64(field(2), UInt64(bitPattern: values.logStart))
        file.store64(field(3), UInt64(bitPattern: values.activeBase))
        file.store64(field(4), UInt64(bitPattern: values.activeBytes))
        file.store64(field(5), UInt64(bitPattern: values.activeIndexEntries))
        file.store64(field(6), UInt64(bitPattern: values.activeTimeIndexEntries))
        file.store64(field(7), UInt64(bitPattern: values.layout))
        file.store64(offset + LiveStateFile.SlotField.sequence, sequence &+ 2)
    }

    /// A consistent copy of the values (nil if the writer kept changing them).
    func read() -> Values? {
        for _ in 0..<1000 {
            let before = file.load64(offset + LiveStateFile.SlotField.sequence)
            guard before & 1 == 0 else { continue }
            var values = Values()
            values.writtenEnd = Int64(bitPattern: file.load64(field(0)))
            values.durableEnd = Int64(bitPattern: file.load64(field(1)))
            values.logStart = Int64(bitPattern: file.load64(field(2)))
            values.activeBase = Int64(bitPattern: file.load64(field(3)))
            values.activeBytes = Int64(bitPattern: file.load64(field(4)))
            values.activeIndexEntries = Int64(bitPattern: file.load64(field(5)))
            values.activeTimeIndexEntries = Int64(bitPattern: file.load64(field(6)))
            values.layout = Int64(bitPattern: file.load64(field(7)))
            reservoir_fence()
            if file.load64(offset + LiveStateFile.SlotField.sequence) == before { return values }
        }
        return nil
    }
}
