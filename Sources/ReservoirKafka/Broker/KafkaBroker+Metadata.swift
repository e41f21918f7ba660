import Logging
import Reservoir

extension KafkaBroker {
    /// Metadata: this node, and every topic asked for (all when the list is null, or empty in
    /// version 0) with its partitions, each led by node 0 at epoch 0.
    func metadata(_ request: MetadataRequest, version: Int16) -> MetadataResponse {
        var response = MetadataResponse()
        var broker = MetadataResponse.MetadataResponseBroker()
        broker.nodeId = 0
        broker.host = configuration.advertisedHost
        broker.port = Int32(configuration.advertisedPort)
        response.brokers = [broker]
        response.clusterId = "reservoir"
        response.controllerId = 0
        let names: [String]
        if let topics = request.topics, !(version == 0 && topics.isEmpty) {
            names = topics.compactMap(\.name)
        } else {
            names = store.topicNames
        }
        let autoCreate = configuration.autoCreateTopics && (version < 4 || request.allowAutoTopicCreation)
        response.topics = names.map { name in topicMetadata(name, autoCreate: autoCreate) }
        return response
    }

    private func topicMetadata(_ name: String, autoCreate: Bool) -> MetadataResponse.MetadataResponseTopic {
        var entry = MetadataResponse.MetadataResponseTopic()
        entry.name = name
        entry.isInternal = Reservoir.internalTopics.contains(name)
        let topic: Topic
        do {
            topic = try existingOrCreated(name, create: autoCreate)
        } catch {
            entry.errorCode = KafkaErrorCode(error).rawValue
            return entry
        }
        entry.partitions = (0..<topic.config.partitions).map { index in
            var partition = MetadataResponse.MetadataResponsePartition()
            partition.partitionIndex = Int32(index)
            partition.leaderId = 0
            partition.leaderEpoch = 0
            partition.replicaNodes = [0]
            partition.isrNodes = [0]
            return partition
        }
        return entry
    }

    /// The topic called `name`, created with the default partition count when `create` allows
    /// it and it does not exist.
    func existingOrCreated(_ name: String, create: Bool) throws(ReservoirError) -> Topic {
        do {
            return try store.topic(name)
        } catch  where error.code == .topicNotFound && create {
            do {
                let created = try store.createTopic(name, config: TopicConfig(partitions: configuration.defaultPartitions))
                logger.info(
                    "created topic on first use", metadata: ["topic": "\(name)", "partitions": "\(configuration.defaultPartitions)"])
                return created
            } catch  where error.code == .topicAlreadyExists {
                return try store.topic(name)
            }
        }
    }
}
