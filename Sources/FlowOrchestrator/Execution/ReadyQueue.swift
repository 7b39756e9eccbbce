import Synchronization

/// The nodes ready to start, handed to the worker tasks one at a time.
///
/// A worker that finds the queue empty suspends until a node is pushed or the queue is closed.
/// Cancelling a waiting worker closes the queue, so a cancelled run never leaves a worker behind.
final class ReadyQueue: Sendable {
    private struct State {
        var items: [Int] = []
        var head = 0
        var waiters: [CheckedContinuation<Int?, Never>] = []
        var closed = false

        mutating func pop() -> Int? {
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
            return item
        }
    }

    private let state = Mutex(State())

    /// Makes `indices` available, waking waiting workers first.
    func push<C: Collection<Int>>(_ indices: C) {
        guard !indices.isEmpty else { return }
        var handed: [(CheckedContinuation<Int?, Never>, Int)] = []
        state.withLock { state in
            guard !state.closed else { return }
            var rest = indices[...]
            while !state.waiters.isEmpty, let index = rest.first {
                handed.append((state.waiters.removeLast(), index))
                rest = rest.dropFirst()
            }
            state.items.append(contentsOf: rest)
        }
        for (waiter, index) in handed { waiter.resume(returning: index) }
    }

    /// Ends the queue: waiting and later callers of ``next()`` get nil.
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            state.items.removeAll()
            state.head = 0
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// Whether no node is waiting to be taken.
    var isEmpty: Bool {
        state.withLock { $0.head == $0.items.count }
    }

    /// The next ready node if there is one now; never waits.
    func take() -> Int? {
        state.withLock { $0.pop() }
    }

    /// The next ready node, or nil once the queue is closed.
    func next() async -> Int? {
        let immediate: Int?? = state.withLock { state in
            if let item = state.pop() { return .some(item) }
            return state.closed ? .some(nil) : nil
        }
        if let immediate { return immediate }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Int?, Never>) in
                let immediate: Int?? = state.withLock { state in
                    if let item = state.pop() { return .some(item) }
                    if state.closed { return .some(nil) }
                    state.waiters.append(waiter)
                    return nil
                }
                if let immediate { waiter.resume(returning: immediate) }
            }
        } onCancel: {
            close()
        }
    }
}
