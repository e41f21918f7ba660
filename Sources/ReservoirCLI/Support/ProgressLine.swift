import Foundation
import Synchronization

/// A one-line progress report on standard error for commands that take a while: drawn only on
/// a terminal, only once the command has run for a second, redrawn at most ten times a second,
/// and erased when the command ends, so that output to files and pipes never contains it.
///
/// `RESERVOIR_PROGRESS_AFTER_MS` sets how long a command runs before the line appears (1000 by
/// default; 0 shows it at once).
final class ProgressLine: Sendable {
    /// Seconds a command runs before its line is drawn.
    static let delay: TimeInterval = {
        guard let text = ProcessInfo.processInfo.environment["RESERVOIR_PROGRESS_AFTER_MS"], let milliseconds = UInt32(text) else {
            return 1
        }
        return TimeInterval(milliseconds) / 1000
    }()

    private let label: String
    private let started = Date()
    private let state = Mutex<(lastDraw: Date?, text: String, drawn: Bool, done: Bool)>((nil, "", false, false))
    private let enabled: Bool

    /// - Parameter printsAsItGoes: the command writes its output while it runs: the line shows
    ///   only when that output goes to a file or a pipe, not to the same terminal.
    init(_ label: String, printsAsItGoes: Bool = false) {
        self.label = label
        enabled = isatty(2) == 1 && !(printsAsItGoes && isatty(1) == 1)
    }

    /// Sets what the line says (drawn if a draw is due).
    func update(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(started) >= Self.delay else { return }
        let due = state.withLock { state -> Bool in
            guard !state.done, state.lastDraw.map({ now.timeIntervalSince($0) >= 0.1 }) ?? true else { return false }
            state.lastDraw = now
            return true
        }
        guard due else { return }
        let line = text()
        state.withLock { $0.text = line }
        draw(line, elapsed: now.timeIntervalSince(started))
    }

    /// Runs `body`, showing the elapsed time (and the last text given) every second meanwhile.
    func whileRunning<T>(_ body: () throws -> T) rethrows -> T {
        if enabled {
            let line = self
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: Self.delay)
                while true {
                    let (text, done, last) = line.state.withLock { ($0.text, $0.done, $0.lastDraw) }
                    if done { return }
                    // Updates drawn meanwhile keep the line current: only a quiet line is redrawn.
                    if last.map({ Date().timeIntervalSince($0) < 0.9 }) != true {
                        line.draw(text, elapsed: Date().timeIntervalSince(line.started))
                    }
                    Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        defer { finish() }
        return try body()
    }

    /// Erases the line.
    func finish() {
        let drawn = state.withLock { state -> Bool in
            state.done = true
            return state.drawn
        }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    private func draw(_ text: String, elapsed: TimeInterval) {
        let done = state.withLock { state -> Bool in
            if !state.done { state.drawn = true }
            return state.done
        }
        guard !done else { return }
        let suffix = text.isEmpty ? "" : ": \(text)"
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label)\(suffix) (\(Int(elapsed)) s)".utf8))
    }
}
