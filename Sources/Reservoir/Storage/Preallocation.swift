#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Keeps allocated, cached space ahead of a segment's writer, so that appends overwrite pages
/// the page cache and the file system already hold instead of growing the file.
///
/// Growing a file costs page allocation, zeroing and block reservation in every write (see
/// DESIGN.md). A background thread does that work ahead of the writer, one chunk at a time:
/// `posix_fallocate` reserves the blocks and extends the file (it never shrinks it, and a full
/// disk is an error, not a signal), then `MADV_POPULATE_WRITE` on a temporary mapping brings the
/// pages into the page cache, zeroed and writable. Neither changes a byte of data, so the filler
/// never races the writer over content, and neither takes the inode lock for longer than the
/// allocation, so the writer's `pwrite` does not wait behind it.
///
/// The file then has a zero tail beyond its last batch, which recovery recognises as
/// preallocated space, and which roll and close cut off.
final class Preallocation: Sendable {
    private struct State {
        var filledEnd: Int
        var appendEnd: Int
        var filling = false
        var scheduled = false
        var stopped = false
    }

    static let chunkBytes = 1 << 20

    private let state: Mutex<State>
    private let file: FileHandle
    private let limit: Int
    private let lookahead: Int

    /// - Parameters:
    ///   - size: the file's current size (its logical end, after recovery or for a new segment).
    ///   - limit: never fill beyond this (the segment's size limit).
    init(file: FileHandle, size: Int, limit: Int, lookahead: Int) {
        self.file = file
        self.limit = limit
        self.lookahead = lookahead
        state = Mutex(State(filledEnd: size, appendEnd: size))
    }

    /// Called by the writer before it writes up to `end`; returns whether to schedule the filler.
    func willWrite(upTo end: Int) -> Bool {
        state.withLock { state -> Bool in
            state.appendEnd = max(state.appendEnd, end)
            let wanted = !state.stopped && !state.scheduled && state.filledEnd < min(limit, end + lookahead / 2)
            if wanted { state.scheduled = true }
            return wanted
        }
    }

    /// Prepares chunks until `lookahead` bytes lie ready beyond the writer (on a background thread).
    func fill() {
        let page = FileSystem.pageSize
        while true {
            let claim = state.withLock { state -> Int? in
                // Whole pages only (a mapping starts on a page), from the page where the last
                // chunk or the writer's bytes end, whichever is later: a reopened segment ends
                // inside a page. Preparing a page again changes none of its bytes.
                let start = max(state.filledEnd, state.appendEnd / page * page) / page * page
                guard !state.stopped, start < min(limit, state.appendEnd + lookahead) else {
                    state.scheduled = false
                    return nil
                }
                state.filling = true
                return start
            }
            guard let start = claim else { return }
            let count = min(Self.chunkBytes, limit - start)
            let ok = prepare(start: start, count: count)
            state.withLock { state in
                state.filling = false
                if ok {
                    state.filledEnd = start + count
                } else {
                    state.stopped = true  // a full disk or no support: appends still grow the file
                    state.scheduled = false
                }
            }
            if !ok { return }
        }
    }

    private func prepare(start: Int, count: Int) -> Bool {
        // A failure (a full disk, no support) stops the filling, and appends grow the file.
        do throws(ReservoirError) { try file.allocate(from: start, count: count) } catch { return false }
        guard let mapping = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, file.descriptor, off_t(start)),
            mapping != MAP_FAILED
        else { return false }
        defer { munmap(mapping, count) }
        return madvise(mapping, count, populateWrite) == 0
    }

    /// Stops filling and waits for a chunk in progress (before the file is trimmed).
    func stop() {
        while true {
            let busy = state.withLock { state -> Bool in
                state.stopped = true
                return state.filling
            }
            if !busy { return }
            sched_yield()
        }
    }
}

/// `MADV_POPULATE_WRITE` (Linux 5.14): fault pages in writable, reporting failures as errors.
private let populateWrite: Int32 = 23
