import Reservoir

extension KafkaBroker {
    /// ListOffsets: the log end offset for timestamp -1 (latest), the log start for -2 (earliest),
    /// otherwise the first record whose timestamp is at or after the one asked for (-1 when none is).
    func listOffsets(_ request: ListOffsetsRequest, version: Int16) -> ListOffsetsResponse {
        var response = ListOffsetsResponse()
        for topic in request.topics {
            var topicResponse = ListOffsetsResponse.ListOffsetsTopicResponse()
            topicResponse.name = topic.name
            for partition in topic.partitions {
                var entry = ListOffsetsResponse.ListOffsetsPartitionResponse()
                entry.partitionIndex = partition.partitionIndex
                entry.leaderEpoch = 0
                do {
                    let log = try store.log(topic: topic.name, partition: Int(partition.partitionIndex))
                    switch partition.timestamp {
                    case -1:
                        entry.offset = log.endOffset
                    case -2:
                        entry.offset = log.startOffset
                    default:
                        if let found = try log.offset(forTimestamp: partition.timestamp) {
                            entry.offset = found.offset
                            entry.timestamp = found.timestamp
                        }
                    }
                } catch {
                    entry.errorCode = KafkaErrorCode(error).rawValue
                }
                topicResponse.partitions.append(entry)
            }
            response.topics.append(topicResponse)
        }
        return response
    }
}
