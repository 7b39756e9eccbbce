import Synchronization

/// Makes a run's changes durable, one writer at a time, sharing each write among every caller
/// waiting for it (group commit).
///
/// Callers ask for everything up to a sequence number to be durable. The first caller to find no
/// write in progress becomes the leader: it takes everything pending (events, or a copy of the
/// whole state for stores without a journal) and writes it with one store call; callers arriving
/// meanwhile wait and are released together when a write covers them. After one failed write the
/// persister refuses every later commit, so nothing is ever reported durable that is not.
final class Persister: Sendable {
    /// What the leader writes.
    enum Batch {
        case events([WorkflowEvent])
        case snapshot(WorkflowState)
    }

    private enum Role {
        case done, lead, retry
        case failed(FlowError)
    }

    private struct State {
        var durable: UInt64
        var leading = false
        var waiters: [CheckedContinuation<Role, Never>] = []
        var failure: FlowError?
    }

    private let state: Mutex<State>
    private let write: @Sendable (Batch) async throws -> Void
    private let take: @Sendable () -> (batch: Batch, lastSequence: UInt64)
    private let describe: String

    /// A persister whose state is durable up to `durable`. `take` hands over what is pending;
    /// `write` stores it.
    init(
        durable: UInt64, describe: String,
        take: @escaping @Sendable () -> (batch: Batch, lastSequence: UInt64),
        write: @escaping @Sendable (Batch) async throws -> Void
    ) {
        self.state = Mutex(State(durable: durable))
        self.take = take
        self.write = write
        self.describe = describe
    }

    /// The highest sequence number known durable.
    var durableSequence: UInt64 { state.withLock { $0.durable } }

    /// Returns when every change up to `sequence` is durable; throws `persistenceFailed` when it
    /// cannot be made so (now or at any earlier commit).
    func commit(upTo sequence: UInt64) async throws(FlowError) {
        while true {
            switch await role(for: sequence) {
            case .done:
                return
            case .failed(let error):
                throw error
            case .retry:
                continue
            case .lead:
                try await lead()
            }
        }
    }

    private func role(for sequence: UInt64) async -> Role {
        func decide(_ state: inout State) -> Role? {
            if let failure = state.failure { return .failed(failure) }
            if state.durable >= sequence { return .done }
            if state.leading { return nil }
            state.leading = true
            return .lead
        }
        if let role = state.withLock({ decide(&$0) }) { return role }
        return await withCheckedContinuation { waiter in
            let role: Role? = state.withLock { state in
                if let role = decide(&state) { return role }
                state.waiters.append(waiter)
                return nil
            }
            if let role { waiter.resume(returning: role) }
        }
    }

    private func lead() async throws(FlowError) {
        let (batch, last) = take()
        var failure: FlowError?
        do {
            if case .events(let events) = batch, events.isEmpty {
                // Nothing pending: an earlier leader wrote it all.
            } else {
                try await write(batch)
            }
        } catch {
            let cause = (error as? FlowError).map { "\($0.message)" } ?? "\(error)"
            failure = FlowError(.persistenceFailed, "\(describe): could not persist changes: \(cause)", cause: error)
        }
        let waiters = state.withLock { state in
            if let failure { state.failure = failure } else { state.durable = max(state.durable, last) }
            state.leading = false
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: .retry) }
        if let failure { throw failure }
    }
}
