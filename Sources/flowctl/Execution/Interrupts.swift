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
/// recorded `cancelled`). A second one means "now": every node's process group gets SIGKILL and
/// flowctl exits with 130 at once; the next `run` or `resume` finds those nodes `running` and
/// runs them again. Nodes never inherit the ignored dispositions: they are spawned with default
/// signal handling.
final class Interrupts: Sendable {
    /// The signals delivered so far, one element per signal.
    let signals: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    // Immutable after init; a dispatch source's methods are thread-safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let count = Atomic<Int>(0)
    private static let watched = [SIGINT, SIGTERM, SIGHUP]

    init() {
        (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        var made: [any DispatchSourceSignal] = []
        for number in Self.watched {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            made.append(source)
        }
        sources = made
        for source in made {
            source.setEventHandler { [self] in received(Int32(source.handle)) }
            source.resume()
        }
    }

    private func received(_ number: Int32) {
        if count.add(1, ordering: .relaxed).newValue == 1 {
            continuation.yield(number)
            return
        }
        Terminal.error("flowctl: interrupted again: killing the running nodes")
        LiveProcesses.killAll()
        // `_exit`: other threads are mid-run; atexit handlers could wait on them.
        _exit(ExitStatus.interrupted.rawValue)
    }

    /// Stops watching and restores the default dispositions.
    func stop() {
        continuation.finish()
        for source in sources { source.cancel() }
        for number in Self.watched { signal(number, SIG_DFL) }
    }
}
