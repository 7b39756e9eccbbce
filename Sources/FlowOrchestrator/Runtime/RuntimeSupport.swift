import Synchronization

/// Wakes the claim loop early: a start in this process, a run that ended, a shutdown.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    /// Ends the current wait, or the next one if none is under way.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits for a signal, at most `timeout`, or until the task is cancelled. One waiter at a time.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    self.signal()
                } catch {}
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                self.signal()
            }
            group.cancelAll()
        }
    }
}

/// Counts the node actions under way in a runtime, and holds back new ones while it drains:
/// a graceful shutdown lets the running nodes finish, starts no new one, then interrupts the
/// runs (the held-back nodes are recorded `interrupted` and run again wherever the workflow
/// resumes).
final class NodeGate: Sendable {
    private struct State {
        var draining = false
        var inFlight = 0
    }
    private let state = Mutex(State())

    /// `dag` with every action passing through the gate, the first of them after `before`.
    func wrap(_ dag: DAG, before: (@Sendable () -> Void)? = nil) throws -> DAG {
        let once = before.map(Once.init)
        return try DAG(nodes: dag.nodes.map { node in
            var node = node
            let action = node.action
            node.action = { context in
                once?.run()
                try await self.enter()
                defer { self.leave() }
                return try await action(context)
            }
            return node
        })
    }

    private func enter() async throws {
        let admitted = state.withLock { state -> Bool in
            guard !state.draining else { return false }
            state.inFlight += 1
            return true
        }
        if admitted { return }
        // Draining: wait for the run's interruption, which cancels this task.
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    private func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// Holds back every node action that has not started yet.
    func startDraining() {
        state.withLock { $0.draining = true }
    }

    /// Lets node actions start again (a new claim loop).
    func reset() {
        state.withLock { $0.draining = false }
    }

    /// The node actions under way.
    var inFlight: Int { state.withLock { $0.inFlight } }
}

/// Runs a closure once; concurrent callers wait (blocking) until it has run.
final class Once: Sendable {
    private let body: Mutex<(@Sendable () -> Void)?>

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = Mutex(body)
    }

    func run() {
        body.withLock { body in
            body?()
            body = nil
        }
    }
}
