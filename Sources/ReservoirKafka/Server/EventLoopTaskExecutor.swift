import NIOCore

/// Runs a connection's request tasks on the connection's own event loop instead of Swift
/// concurrency's shared cooperative pool.
///
/// The server then keeps answering when the embedding application's cooperative threads are busy
/// or blocked, and a request does not hop threads between the socket and the store: the appends'
/// acknowledgements and a long-polling fetch resume on the loop that owns the connection.
/// File-system administration still goes to NIO's thread pool (`KafkaBroker.blocking`).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // `UnownedJob` is not Sendable; the loop runs the closure exactly once, on its thread.
        let work = UncheckedSendable(job)
        loop.execute { work.value.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Carries a value the compiler cannot prove Sendable across one hand-off that is exclusive.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
