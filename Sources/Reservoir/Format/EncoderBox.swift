/// Carries a ``RecordBatchEncoder`` (not thread-safe) between threads: the pools of encoders that
/// appends borrow from, and batches handed to a producer's writer.
final class EncoderBox: @unchecked Sendable {
    // Safe: an encoder in a box has one user at a time; it is taken out of a pool under the
    // pool's lock, or handed over whole with a batch, and its giver keeps no other reference.
    let encoder: RecordBatchEncoder
    init(_ encoder: RecordBatchEncoder) { self.encoder = encoder }
}
