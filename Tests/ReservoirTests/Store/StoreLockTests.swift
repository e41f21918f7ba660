import Foundation
import Testing
@testable import Reservoir

#if canImport(Glibc)
import Glibc
#endif

@Suite("The store lock: one opener at a time, and a child's inherited descriptor is waited out")
struct StoreLockTests {
    @Test("a second open in the same process fails at once, naming this process")
    func secondOpenInProcess() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        defer { try? store.close() }
        let started = ContinuousClock.now
        #expect {
            try Reservoir.open(at: dir)
        } throws: { error in
            (error as? ReservoirError)?.code == .storeLocked
                && (error as? ReservoirError)?.message.contains("already open for writing in this process") == true
        }
        #expect(started.duration(to: .now) < .milliseconds(StoreLock.inheritedLockWaitMilliseconds))
    }

    @Test("a child that shares the lock's descriptor for a moment (fork before exec) delays a reopen, never fails it")
    func inheritedDescriptor() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try Reservoir.open(at: dir)
        // The child holds a copy of every descriptor, the lock's included, for 300 ms.
        let child = fork()
        if child == 0 {
            usleep(300_000)
            _exit(0)
        }
        try #require(child > 0)
        try store.close()
        let reopened = try Reservoir.open(at: dir)
        try reopened.close()
        var status: Int32 = 0
        waitpid(child, &status, 0)
    }
}
