import Logging
import NIOCore
import Reservoir

extension KafkaBroker {
    /// Produce: each partition's batches are validated as Kafka's log validator does and
    /// appended as the client encoded them (compression unchanged), offsets assigned by the
    /// store. acks=-1 answers once they are durable, acks=1 once written, acks=0 not at all.
    func produce(_ request: ProduceRequest, version: Int16) async -> ProduceResponse? {
        let acks: Acks = request.acks == -1 ? .durable : .buffered
        var response = ProduceResponse()
        for topicData in request.topicData {
            var topicResponse = ProduceResponse.TopicProduceResponse()
            topicResponse.name = topicData.name
            var topicError: ReservoirError?
            if (try? store.topic(topicData.name)) == nil {
                // Missing: created on the thread pool (files and fsyncs) when allowed, or the reason.
                let name = topicData.name
                let create = configuration.autoCreateTopics
                topicError = await blocking { () -> ReservoirError? in
                    do throws(ReservoirError) {
                        _ = try self.existingOrCreated(name, create: create)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            for partitionData in topicData.partitionData {
                var partitionResponse = ProduceResponse.PartitionProduceResponse()
                partitionResponse.index = partitionData.index
                if let topicError {
                    partitionResponse.errorCode = KafkaErrorCode(topicError).rawValue
                    partitionResponse.errorMessage = topicError.message
                } else if request.acks != 0 && request.acks != 1 && request.acks != -1 {
                    partitionResponse.errorCode = KafkaErrorCode.invalidRequiredAcks.rawValue
                } else {
                    await append(partitionData, topic: topicData.name, acks: acks, into: &partitionResponse)
                }
                topicResponse.partitionResponses.append(partitionResponse)
            }
            response.responses.append(topicResponse)
        }
        return request.acks == 0 ? nil : response
    }

    private func append(
        _ data: ProduceRequest.PartitionProduceData, topic: String, acks: Acks,
        into response: inout ProduceResponse.PartitionProduceResponse
    ) async {
        guard let records = data.records else {
            response.errorCode = KafkaErrorCode.invalidRecord.rawValue
            response.errorMessage = "no records"
            return
        }
        let partition = Int(data.index)
        do {
            let written = try records.buffer.withUnsafeReadableBytes { bytes in
                Result { () throws(ReservoirError) in try store.appendEncodedBatches(to: topic, partition: partition, bytes: bytes) }
            }.get()
            try await written.acknowledged(acks)
            let offsets = written.offsets
            response.baseOffset = offsets.lowerBound
            response.logStartOffset = (try? store.log(topic: topic, partition: partition).startOffset) ?? -1
        } catch let error as ReservoirError {
            let code = KafkaErrorCode(error)
            response.errorCode = (code == .corruptMessage || code == .invalidRequest ? KafkaErrorCode.invalidRecord : code).rawValue
            response.errorMessage = error.message
            logger.debug("produce refused", metadata: ["topic": "\(topic)", "partition": "\(partition)", "error": "\(error.message)"])
        } catch {
            response.errorCode = KafkaErrorCode.unknownServerError.rawValue
            response.errorMessage = "\(error)"
        }
    }
}
