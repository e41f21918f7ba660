import FuzzDriver
import NIOCore
@testable import ReservoirKafka

// The decoders of Kafka requests, in memory: what a client can send the server. The input is a
// request frame (size prefix removed): its header is parsed as the server parses it, then, what
// ever the header says, the body is decoded as every request type in every version, and what
// decodes is encoded and decoded again. Seeded with the requests real clients sent
// (Tests/ReservoirTests/Fixtures/kafka-requests).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequests(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var frame = bytes
    if let (header, api, body) = try? KafkaConnectionHandler.parse(&frame) {
        decode(body, as: api, version: header.requestApiVersion)
    }
    // The same bytes as the body of each API, in the versions around the one the header names.
    guard size >= 4, let version = bytes.getInteger(at: 2, as: Int16.self) else { return 0 }
    let body = bytes.getSlice(at: 4, length: size - 4) ?? ByteBuffer()
    for api in KafkaAPI.allCases {
        let range = api.definedVersions
        decode(body, as: api, version: range.lowerBound + Int16(abs(Int(version) % (range.count))))
    }
    return 0
}

private func decode(_ body: ByteBuffer, as api: KafkaAPI, version: Int16) {
    guard let message = try? api.requestType.decode(body, version: version) else { return }
    let encoded = message.encoded(version: version)
    guard (try? api.requestType.decode(encoded, version: version)) != nil else {
        fatalError("\(api) v\(version): a decoded request did not decode after encoding")
    }
}

/// SwiftPM links an executable's entry point under this name; hand control to libFuzzer.
@_cdecl("RequestFuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzRequests(data, size) }
}
