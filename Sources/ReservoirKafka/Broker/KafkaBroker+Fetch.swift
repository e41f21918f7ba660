import NIOCore
import Reservoir

extension KafkaBroker {
    /// Fetch: whole batches from each partition's fetch offset, within the partition's and the
    /// request's byte limits (at least one batch, as Kafka does, so that a batch larger than the
    /// limit still makes progress). With fewer than `minBytes` ready, it waits up to `maxWaitMs`
    /// on the store's wake-up (no polling) and reads again.
    func fetch(_ request: FetchRequest, version: Int16) async -> FetchResponse {
        var response = read(request)
        let partitions = response.responses.flatMap(\.partitions)
        let gathered = partitions.reduce(0) { $0 + ($1.records?.byteCount ?? 0) }
        // An error (an unknown partition, an offset out of range) is answered at once, as Kafka does.
        if gathered < Int(request.minBytes), request.maxWaitMs > 0, partitions.allSatisfy({ $0.errorCode == 0 }) {
            var positions: [TopicPartition: Int64] = [:]
            for topic in request.topics {
                for partition in topic.partitions {
                    positions[TopicPartition(topic.topic, Int(partition.partition))] = partition.fetchOffset
                }
            }
            await store.waitForRecords(positions, timeoutMilliseconds: Int(request.maxWaitMs))
            response = read(request)
        }
        return response
    }

    /// The size from which a partition's batches are sent from their segment file with
    /// sendfile(2) instead of being copied into the response.
    static let sendfileThreshold = 64 << 10

    private func read(_ request: FetchRequest) -> FetchResponse {
        var response = FetchResponse()
        var budget = request.maxBytes > 0 ? Int(request.maxBytes) : Int.max
        for topic in request.topics {
            var topicResponse = FetchResponse.FetchableTopicResponse()
            topicResponse.topic = topic.topic
            for partition in topic.partitions {
                topicResponse.partitions.append(read(topic: topic.topic, partition, budget: &budget))
            }
            response.responses.append(topicResponse)
        }
        return response
    }

    private func read(topic: String, _ request: FetchRequest.FetchPartition, budget: inout Int) -> FetchResponse.PartitionData {
        var data = FetchResponse.PartitionData()
        data.partitionIndex = request.partition
        data.records = .empty
        let log: PartitionLog
        do {
            log = try store.log(topic: topic, partition: Int(request.partition))
        } catch {
            data.errorCode = KafkaErrorCode(error).rawValue
            return data
        }
        data.highWatermark = log.endOffset
        data.lastStableOffset = log.endOffset
        data.logStartOffset = log.startOffset
        do {
            // Past the request's byte budget only offsets and watermarks are answered; within it a
            // partition gets at least one batch (Kafka's rule, so that a batch larger than the
            // limits still makes progress).
            guard budget > 0 else {
                if request.fetchOffset < log.startOffset || request.fetchOffset > log.endOffset {
                    data.errorCode = KafkaErrorCode.offsetOutOfRange.rawValue
                }
                return data
            }
            let result = try log.read(from: request.fetchOffset, maxBytes: min(Int(max(request.partitionMaxBytes, 1)), budget))
            let records: KafkaRecords
            if result.byteCount >= Self.sendfileThreshold, let file = KafkaFileRecords(result) {
                records = .file(file)
            } else {
                // Small reads (a consumer at the end of the log) cost less copied than opened.
                var buffer = ByteBufferAllocator().buffer(capacity: result.byteCount)
                for batch in result.batches { batch.withUnsafeBytes { _ = buffer.writeBytes($0) } }
                records = .bytes(buffer)
            }
            budget -= records.byteCount
            data.records = records
            data.highWatermark = result.endOffset
            data.lastStableOffset = result.endOffset
            data.logStartOffset = result.startOffset
        } catch {
            data.errorCode = KafkaErrorCode(error).rawValue
        }
        return data
    }
}
