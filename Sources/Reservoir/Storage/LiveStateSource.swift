import Logging
import Synchronization

/// The store's live state (``LiveStateFile``) as a process finds it. The writer creates the file
/// when it opens; a read-only process may open the store before that (the store closed, or its
/// writer still starting), so until the file is found it is looked for again, at most every
/// ``retryNanoseconds``, and the reader then follows the writer as if it had been there all along.
final class LiveStateSource: Sendable {
    /// How often a reader without the file looks for it again.
    static let retryNanoseconds: UInt64 = 200_000_000

    private let root: String
    private let logger: Logger?
    private let state: Mutex<(file: LiveStateFile?, lastLook: UInt64, reported: Bool)>

    /// The writer's own file.
    init(writer file: LiveStateFile) {
        root = ""
        logger = nil
        state = Mutex((file, 0, false))
    }

    /// A reader's: the file under `root` now, if a writer made it, and later otherwise.
    /// - Throws: when the file is there but of a version this build does not read.
    init(readingRoot root: String, logger: Logger) throws(ReservoirError) {
        self.root = root
        self.logger = logger
        state = Mutex((try LiveStateFile.openForReading(root: root), monotonicNanoseconds(), false))
    }

    /// The live state, nil while no writer has made it.
    var file: LiveStateFile? {
        state.withLock { state in
            if let file = state.file { return file }
            let now = monotonicNanoseconds()
            guard now &- state.lastLook >= Self.retryNanoseconds else { return nil }
            state.lastLook = now
            do throws(ReservoirError) {
                state.file = try LiveStateFile.openForReading(root: root)
            } catch {
                // Said once: the next looks find the same file until a writer replaces it.
                if !state.reported {
                    state.reported = true
                    logger?.warning("the store's live state cannot be read; reading the files as they are", metadata: ["error": "\(error)"])
                }
            }
            return state.file
        }
    }
}
