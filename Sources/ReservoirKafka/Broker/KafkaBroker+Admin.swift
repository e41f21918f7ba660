import Logging
import Reservoir

extension KafkaBroker {
    /// CreateTopics: with the partition count asked for (-1: the default), replication factor 1
    /// (-1 takes it; more is refused, there is one node), and the configs given by Kafka's names
    /// (`retention.ms`, `cleanup.policy`, ...; see ``TopicSetting``). `validateOnly` checks
    /// without creating.
    func createTopics(_ request: CreateTopicsRequest, version: Int16) -> CreateTopicsResponse {
        var response = CreateTopicsResponse()
        for topic in request.topics {
            var result = CreateTopicsResponse.CreatableTopicResult()
            result.name = topic.name
            do throws(ReservoirError) {
                guard topic.replicationFactor == -1 || topic.replicationFactor == 1 else {
                    result.errorCode = KafkaErrorCode.invalidReplicationFactor.rawValue
                    result.errorMessage = "replication factor \(topic.replicationFactor): this broker is a single node (1)"
                    response.topics.append(result)
                    continue
                }
                guard topic.assignments.isEmpty else {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = "replica assignments are not supported: there is one node"
                    response.topics.append(result)
                    continue
                }
                let partitions = topic.numPartitions == -1 ? configuration.defaultPartitions : Int(topic.numPartitions)
                guard partitions >= 1 else {
                    result.errorCode = KafkaErrorCode.invalidPartitions.rawValue
                    result.errorMessage = "partition count \(partitions) must be at least 1"
                    response.topics.append(result)
                    continue
                }
                let config = try TopicConfig().applying(
                    [("partitions", "\(partitions)")] + topic.configs.map { ($0.name, $0.value ?? "") })
                if !request.validateOnly {
                    try store.createTopic(topic.name, config: config)
                    logger.info("created topic", metadata: ["topic": "\(topic.name)", "partitions": "\(partitions)"])
                } else if store.topicNames.contains(topic.name) {
                    throw ReservoirError(.topicAlreadyExists, "topic \(topic.name) already exists")
                }
                result.numPartitions = Int32(partitions)
                result.replicationFactor = 1
            } catch {
                let code = KafkaErrorCode(error)
                result.errorCode = (code == .invalidRequest ? KafkaErrorCode.invalidRequest : code).rawValue
                result.errorMessage = error.message
            }
            response.topics.append(result)
        }
        return response
    }

    /// DeleteTopics: by name (topic ids are not assigned: deleting by id answers
    /// UNKNOWN_TOPIC_ID's sibling, UNKNOWN_TOPIC_OR_PARTITION).
    func deleteTopics(_ request: DeleteTopicsRequest, version: Int16) -> DeleteTopicsResponse {
        var response = DeleteTopicsResponse()
        let names = version >= 6 ? request.topics.map { $0.name } : request.topicNames.map { Optional($0) }
        for name in names {
            var result = DeleteTopicsResponse.DeletableTopicResult()
            result.name = name
            if let name {
                do throws(ReservoirError) {
                    try store.deleteTopic(name)
                    logger.info("deleted topic", metadata: ["topic": "\(name)"])
                } catch {
                    result.errorCode = KafkaErrorCode(error).rawValue
                    result.errorMessage = error.message
                }
            } else {
                result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            }
            response.responses.append(result)
        }
        return response
    }

    /// CreatePartitions: grows a topic to the count asked for (never shrinks it).
    func createPartitions(_ request: CreatePartitionsRequest, version: Int16) -> CreatePartitionsResponse {
        var response = CreatePartitionsResponse()
        for topic in request.topics {
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult()
            result.name = topic.name
            do throws(ReservoirError) {
                let current = try store.topic(topic.name).config
                guard Int(topic.count) > current.partitions else {
                    result.errorCode = KafkaErrorCode.invalidPartitions.rawValue
                    result.errorMessage = "topic \(topic.name) has \(current.partitions) partitions; the new count must be larger"
                    response.results.append(result)
                    continue
                }
                if !request.validateOnly { try store.alterTopic(topic.name, settings: [("partitions", "\(topic.count)")]) }
            } catch {
                result.errorCode = KafkaErrorCode(error).rawValue
                result.errorMessage = error.message
            }
            response.results.append(result)
        }
        return response
    }

    /// DeleteRecords: moves each partition's log start offset (-1: to its end).
    func deleteRecords(_ request: DeleteRecordsRequest, version: Int16) -> DeleteRecordsResponse {
        var response = DeleteRecordsResponse()
        for topic in request.topics {
            var topicResult = DeleteRecordsResponse.DeleteRecordsTopicResult()
            topicResult.name = topic.name
            for partition in topic.partitions {
                var result = DeleteRecordsResponse.DeleteRecordsPartitionResult()
                result.partitionIndex = partition.partitionIndex
                do throws(ReservoirError) {
                    let log = try store.log(topic: topic.name, partition: Int(partition.partitionIndex))
                    let offset = partition.offset == -1 ? log.endOffset : partition.offset
                    try store.deleteRecords(topic: topic.name, partition: Int(partition.partitionIndex), before: offset)
                    result.lowWatermark = log.startOffset
                } catch {
                    result.errorCode = KafkaErrorCode(error).rawValue
                }
                topicResult.partitions.append(result)
            }
            response.topics.append(topicResult)
        }
        return response
    }

    /// DescribeConfigs: a topic's settings under Kafka's names, each marked as the default or
    /// set for the topic; a broker resource has none to show.
    func describeConfigs(_ request: DescribeConfigsRequest, version: Int16) -> DescribeConfigsResponse {
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult()
            result.resourceType = resource.resourceType
            result.resourceName = resource.resourceName
            switch resource.resourceType {
            case 2:  // topic
                do throws(ReservoirError) {
                    let config = try store.topic(resource.resourceName).config
                    let defaults = TopicConfig()
                    for setting in TopicSetting.all {
                        let name = setting.kafkaName ?? setting.name
                        if let keys = resource.configurationKeys, !keys.isEmpty, !keys.contains(name) { continue }
                        var entry = DescribeConfigsResponse.DescribeConfigsResourceResult()
                        entry.name = name
                        entry.value = setting.value(in: config)
                        let isDefault = entry.value == setting.value(in: defaults)
                        entry.isDefault = isDefault
                        // 1: DYNAMIC_TOPIC_CONFIG, 5: DEFAULT_CONFIG.
                        entry.configSource = isDefault ? 5 : 1
                        entry.readOnly = setting.name == "partitions"
                        entry.documentation = setting.summary
                        result.configs.append(entry)
                    }
                } catch {
                    result.errorCode = KafkaErrorCode(error).rawValue
                    result.errorMessage = error.message
                }
            case 4:  // broker: nothing to show
                break
            default:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "resource type \(resource.resourceType) is not described by this broker"
            }
            response.results.append(result)
        }
        return response
    }

    /// OffsetForLeaderEpoch: the only leader epoch is 0, and it ends at the log end offset.
    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest, version: Int16) -> OffsetForLeaderEpochResponse {
        var response = OffsetForLeaderEpochResponse()
        for topic in request.topics {
            var topicResult = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult()
            topicResult.topic = topic.topic
            for partition in topic.partitions {
                var result = OffsetForLeaderEpochResponse.EpochEndOffset()
                result.partition = partition.partition
                do throws(ReservoirError) {
                    let log = try store.log(topic: topic.topic, partition: Int(partition.partition))
                    result.leaderEpoch = 0
                    result.endOffset = log.endOffset
                } catch {
                    result.errorCode = KafkaErrorCode(error).rawValue
                }
                topicResult.partitions.append(result)
            }
            response.topics.append(topicResult)
        }
        return response
    }
}
