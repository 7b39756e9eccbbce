import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns SIGINT, SIGTERM and SIGHUP into an async stream while a run is under way.
///
/// The first signal is delivered to the stream (the run is then cancelled: nodes are stopped and
/// recorded as the library records an interruption). A second one means "now": every node's
/// process group gets SIGKILL at once (no grace period), and the run still records its stopped
/// nodes and its end before flowctl exits with 130, so no workflow is left `running`. A third
/// exits at once, recording nothing more (the next `run` or `resume` finds the nodes that were
/// running and runs them again). Nodes never inherit the ignored dispositions: they are spawned
/// with default signal handling.
final class Interrupts: Sendable {
    /// The signals delivered so far, one element per signal.
    let signals: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    // Immutable after init; a dispatch source's methods are thread-safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let count = Atomic<Int>(0)
    private static let watched = [SIGINT, SIGTERM, SIGHUP]

    /// The line printed on stderr at the first signal, if any.
    private let notice: String?

    /// Starts watching; `notice` is printed on stderr when the first signal arrives.
    init(notice: String? = nil) {
        self.notice = notice
        (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        var made: [any DispatchSourceSignal] = []
        for number in Self.watched {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            made.append(source)
        }
        sources = made
        for source in made {
            // A dispatch source coalesces signals that arrive close together: `data` counts them.
            source.setEventHandler { [self] in received(Int32(source.handle), times: Int(source.data)) }
            source.resume()
        }
    }

    private func received(_ number: Int32, times: Int) {
        let times = max(times, 1)
        let before = count.add(times, ordering: .relaxed).oldValue
        let now = before + times
        if before == 0 {
            if let notice, now == 1 { Terminal.error(notice) }
            continuation.yield(number)
        }
        if before < 2, now >= 2 {
            Terminal.error("flowctl: interrupted again: killing the running nodes")
            LiveProcesses.killAll()
        }
        if now >= 3 {
            Terminal.error("flowctl: interrupted a third time: exiting without recording the run's end")
            // `_exit`: other threads are mid-run; atexit handlers could wait on them.
            _exit(ExitStatus.interrupted.rawValue)
        }
    }

    /// Stops watching and restores the default dispositions.
    func stop() {
        continuation.finish()
        for source in sources { source.cancel() }
        for number in Self.watched { signal(number, SIG_DFL) }
    }
}
