import Synchronization

/// Makes a run's changes durable, one writer at a time, sharing each write among every caller
/// waiting for it (group commit).
///
/// Callers ask for everything up to a sequence number to be durable. The first caller to find no
/// write in progress becomes the leader: it takes everything pending (events, or a copy of the
/// whole state for stores without a journal) and writes it with one store call; callers arriving
/// meanwhile wait and are released together when a write covers them. After one failed write the
/// persister refuses every later commit, so nothing is ever reported durable that is not.
///
/// Journaled events can also be *published*: written without a sync and without waiting, so
/// that starts reach the journal (and its followers) at once; the next commit's sync covers
/// them. The persister tracks what is written and what is synced separately, and a commit
/// whose events were already published syncs without writing.
final class Persister: Sendable {
    /// What the leader writes.
    enum Batch {
        case events([WorkflowEvent])
        case snapshot(WorkflowState)

        var isEmpty: Bool {
            if case .events(let events) = self { return events.isEmpty }
            return false
        }
    }

    private enum Role {
        case done, lead, retry
        case failed(FlowError)
    }

    private struct State {
        /// Everything up to here is synced as the durability asks.
        var durable: UInt64
        /// Everything up to here is written (perhaps not synced).
        var written: UInt64
        var leading = false
        var waiters: [CheckedContinuation<Role, Never>] = []
        var failure: FlowError?
        /// The highest sequence a publish asked for while another write was in progress: the
        /// leader writes it as soon as its own write returns, not with the next write.
        var publishWanted: UInt64 = 0
    }

    private let state: Mutex<State>
    private let write: @Sendable (Batch, _ sync: Bool) async throws -> Void
    private let take: @Sendable () -> (batch: Batch, lastSequence: UInt64)
    private let describe: String

    /// A persister whose state is durable up to `durable`. `take` hands over what is pending;
    /// `write` stores it, syncing when asked (an empty batch with `sync` only syncs).
    init(
        durable: UInt64, describe: String,
        take: @escaping @Sendable () -> (batch: Batch, lastSequence: UInt64),
        write: @escaping @Sendable (Batch, _ sync: Bool) async throws -> Void
    ) {
        self.state = Mutex(State(durable: durable, written: durable))
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
                try await lead(sync: true)
            }
        }
    }

    /// Writes what is pending up to `sequence` without syncing, unless it is written already or
    /// another write is in progress (which the next commit will follow). Never waits for a
    /// write; a failure is kept and reported by the next commit.
    func publish(upTo sequence: UInt64) async {
        let lead = state.withLock { state in
            guard state.failure == nil, state.written < sequence else { return false }
            guard !state.leading else {
                state.publishWanted = max(state.publishWanted, sequence)
                return false
            }
            state.leading = true
            return true
        }
        if lead { try? await self.lead(sync: false) }
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

    /// Writes what is pending (and syncs, for a commit) as the leader, then hands leadership back;
    /// after a sync, first writes (unsynced) whatever a publish asked for meanwhile (ADR 4: a
    /// completion or a start reaches the journal when the sync in progress returns, not with a
    /// later write).
    private func lead(sync: Bool) async throws(FlowError) {
        var sync = sync
        while true {
            let (batch, last) = take()
            let unsynced = state.withLock { $0.written > $0.durable }
            var failure: FlowError?
            do {
                if !batch.isEmpty {
                    try await write(batch, sync)
                } else if sync && unsynced {
                    try await write(batch, true)  // published earlier: sync only
                }
            } catch {
                let cause = (error as? FlowError).map { "\($0.message)" } ?? "\(error)"
                failure = FlowError(.persistenceFailed, "\(describe): could not persist changes: \(cause)", cause: error)
            }
            let (waiters, again) = state.withLock { state in
                if let failure {
                    state.failure = failure
                } else {
                    state.written = max(state.written, last)
                    if sync { state.durable = max(state.durable, state.written) }
                }
                // After a sync (0.2 ms to several), not after an unsynced write (microseconds, and
                // following each with another doubled the writes of a wide buffered run).
                let again = failure == nil && sync && state.publishWanted > state.written
                if !again { state.leading = false }
                defer { state.waiters.removeAll() }
                return (state.waiters, again)
            }
            for waiter in waiters { waiter.resume(returning: .retry) }
            if let failure { throw failure }
            guard again else { return }
            sync = false
        }
    }
}
