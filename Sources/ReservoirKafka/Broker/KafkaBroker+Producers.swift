import Logging
import Reservoir

extension KafkaBroker {
    /// InitProducerId: a new idempotent producer id from the store (epoch 0), or the next epoch of
    /// a producer that asks to bump its own (version 3+). Transactional producers are refused:
    /// this broker runs no transaction coordinator.
    func initProducerId(_ request: InitProducerIdRequest) -> InitProducerIdResponse {
        var response = InitProducerIdResponse()
        guard request.transactionalId == nil else {
            response.errorCode = KafkaErrorCode.transactionalIdAuthorizationFailed.rawValue
            return response
        }
        if request.producerId >= 0, request.producerEpoch >= 0, request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
            return response
        }
        do throws(ReservoirError) {
            response.producerId = try store.newProducerId()
            response.producerEpoch = 0
        } catch {
            logger.error("no producer id", metadata: ["error": "\(error.message)"])
            response.errorCode = KafkaErrorCode(error).rawValue
        }
        return response
    }
}
