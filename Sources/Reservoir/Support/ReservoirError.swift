#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The error every Reservoir API throws: a kind to switch on and a message that says what was
/// wrong and what to do.
public struct ReservoirError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case invalidArgument, invalidTopicName, topicNotFound, topicAlreadyExists, partitionNotFound
            case recordTooLarge, offsetOutOfRange, storeLocked, corruptData, io, closed, unsupportedFormat
            case outOfOrderSequence, producerFenced, unknownProducer, readOnly, storeNotFound
        }
        fileprivate let value: Value

        /// An argument is outside what the API accepts.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// A topic name uses characters or a length that is not allowed.
        public static let invalidTopicName = Code(value: .invalidTopicName)
        /// No topic has that name.
        public static let topicNotFound = Code(value: .topicNotFound)
        /// A topic of that name exists already.
        public static let topicAlreadyExists = Code(value: .topicAlreadyExists)
        /// The topic has no partition of that number.
        public static let partitionNotFound = Code(value: .partitionNotFound)
        /// A record or batch exceeds the configured size limit; nothing was written.
        public static let recordTooLarge = Code(value: .recordTooLarge)
        /// An offset below the log start or above the log end.
        public static let offsetOutOfRange = Code(value: .offsetOutOfRange)
        /// Another process (or another open store in this one) holds the directory's lock.
        public static let storeLocked = Code(value: .storeLocked)
        /// Bytes on disk failed validation.
        public static let corruptData = Code(value: .corruptData)
        /// A system call failed; ``ReservoirError/errno`` says why.
        public static let io = Code(value: .io)
        /// The store or log is closed.
        public static let closed = Code(value: .closed)
        /// The directory holds a format this version does not read.
        public static let unsupportedFormat = Code(value: .unsupportedFormat)
        /// An idempotent producer's batch does not follow its previous one (sequences skipped);
        /// nothing was written.
        public static let outOfOrderSequence = Code(value: .outOfOrderSequence)
        /// An idempotent producer's epoch is older than its current one: a newer instance took
        /// over its id.
        public static let producerFenced = Code(value: .producerFenced)
        /// A partition has no state for an idempotent producer whose batch does not start its
        /// sequences (its state expired, or its records are gone).
        public static let unknownProducer = Code(value: .unknownProducer)
        /// The store is open read-only in this process: writes go through the process that
        /// writes it.
        public static let readOnly = Code(value: .readOnly)
        /// No store exists at the path a read-only open was given (read-only opens never create one).
        public static let storeNotFound = Code(value: .storeNotFound)

        /// The code's name.
        public var description: String { "\(value)" }
    }

    /// What kind of failure this is.
    public let code: Code
    /// One line that says what was wrong and what to do.
    public let message: String
    /// The system error number for ``Code/io`` errors.
    public let errno: Int32?

    /// An error of `code` with `message`, and the system error number for I/O errors.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// An I/O error for `operation` on `path` with the current `errno`.
    static func io(_ operation: String, path: String, errno number: Int32) -> ReservoirError {
        let reason = String(cString: strerror(number))
        var hint = ""
        if number == ENOSPC { hint = ": the disk is full; free space, nothing acknowledged was lost" }
        if number == EACCES || number == EPERM { hint = ": check the directory's permissions" }
        return ReservoirError(.io, "\(operation) \(path) failed: \(reason)\(hint)", errno: number)
    }

    /// The message.
    public var description: String { message }
}

extension FormatError {
    /// The error as a ``ReservoirError`` of code ``ReservoirError/Code/corruptData``.
    func reservoirError(context: String) -> ReservoirError {
        ReservoirError(.corruptData, "\(context): \(self)")
    }
}
