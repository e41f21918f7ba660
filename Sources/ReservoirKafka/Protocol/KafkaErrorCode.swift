import Reservoir

/// Kafka's error codes that this broker answers with (Kafka's `Errors` enum).
public enum KafkaErrorCode: Int16, Sendable {
    case none = 0
    case offsetOutOfRange = 1
    case corruptMessage = 2
    case unknownTopicOrPartition = 3
    case messageTooLarge = 10
    case requestTimedOut = 7
    case invalidTopicException = 17
    case recordListTooLarge = 18
    case notEnoughReplicas = 19
    case invalidRequiredAcks = 21
    case unsupportedVersion = 35
    case topicAlreadyExists = 36
    case invalidPartitions = 37
    case invalidReplicationFactor = 38
    case invalidRequest = 42
    case policyViolation = 44
    case kafkaStorageError = 56
    case offsetMetadataTooLarge = 12
    case coordinatorNotAvailable = 15
    case illegalGeneration = 22
    case inconsistentGroupProtocol = 23
    case invalidGroupId = 24
    case unknownMemberId = 25
    case invalidSessionTimeout = 26
    case rebalanceInProgress = 27
    case outOfOrderSequenceNumber = 45
    case duplicateSequenceNumber = 46
    case invalidProducerEpoch = 47
    case transactionalIdAuthorizationFailed = 53
    case unknownProducerId = 59
    case nonEmptyGroup = 68
    case groupIdNotFound = 69
    case memberIdRequired = 79
    case unknownServerError = -1
    case invalidRecord = 87

    /// The code a store error answers with.
    public init(_ error: ReservoirError) {
        switch error.code {
        case .topicNotFound, .partitionNotFound: self = .unknownTopicOrPartition
        case .offsetOutOfRange: self = .offsetOutOfRange
        case .recordTooLarge: self = .messageTooLarge
        case .corruptData: self = .corruptMessage
        case .invalidTopicName: self = .invalidTopicException
        case .topicAlreadyExists: self = .topicAlreadyExists
        case .invalidArgument: self = .invalidRequest
        case .io: self = .kafkaStorageError
        case .outOfOrderSequence: self = .outOfOrderSequenceNumber
        case .producerFenced: self = .invalidProducerEpoch
        case .unknownProducer: self = .unknownProducerId
        default: self = .unknownServerError
        }
    }
}
