import Synchronization

/// A caller's request to cancel a run for good, as opposed to an interrupt.
///
/// Cancelling the task that runs ``Workflow/execute(input:definition:)`` *interrupts* the run:
/// nodes in flight are recorded `interrupted`, the workflow `interrupted`, and the next
/// `execute()` resumes it. A cancellation asked for through this type is final instead: the nodes
/// in flight are stopped and recorded `cancelled`, the workflow `cancelled` with the reason, and
/// a later `execute()` refuses it (``FlowError/Code/cancelled``) until a node is reset.
///
/// ```swift
/// let request = CancellationRequest()
/// var workflow = Workflow(id: "nightly", dag: dag, store: store)
/// workflow.options.cancellation = request
/// async let result = workflow.execute()
/// request.cancel(reason: "superseded by tonight's run")
/// ```
///
/// A request covers the runs it is given to, in this process. To cancel a stored workflow that
/// no process runs, call ``Workflow/cancel(reason:)``.
public final class CancellationRequest: Sendable {
    private struct State {
        var reason: String?
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<String?, Never>] = [:]
        /// Waiters whose task was cancelled before they registered.
        var abandoned: Set<UInt64> = []
    }

    private let state = Mutex(State())

    /// A request not made yet.
    public init() {}

    /// Asks every run watching this request to stop and record `cancelled` with `reason`. The
    /// first reason given is kept; later calls do nothing. Returns at once: the run records the
    /// cancellation (durable as its options say) before its `execute()` returns.
    public func cancel(reason: String = "cancelled by request") {
        let waiters = state.withLock { state -> [CheckedContinuation<String?, Never>] in
            guard state.reason == nil else { return [] }
            state.reason = reason
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: reason) }
    }

    /// The reason given to ``cancel(reason:)``, or nil while no cancellation was asked for.
    public var reason: String? { state.withLock { $0.reason } }

    /// Whether a cancellation was asked for.
    public var isCancelled: Bool { reason != nil }

    /// Waits for the request; returns its reason, or nil when the waiting task is cancelled first.
    func wait() async -> String? {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let now: String?? = state.withLock { state in
                    if let reason = state.reason { return .some(reason) }
                    if state.abandoned.remove(id) != nil { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                let waiter = state.waiters.removeValue(forKey: id)
                if waiter == nil, state.reason == nil { state.abandoned.insert(id) }
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
