import Synchronization

/// A one-way gate for ordering tests: `wait()` suspends until `open()`, without sleeping or
/// polling. Waiting ignores task cancellation on purpose (an action that ignores it).
final class Gate: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Lets every waiter, and every later one, through.
    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    /// Returns once the gate is open.
    func wait() async {
        await withCheckedContinuation { waiter in
            let through = state.withLock { state in
                if state.open { return true }
                state.waiters.append(waiter)
                return false
            }
            if through { waiter.resume() }
        }
    }
}
