import Foundation
import Synchronization

/// A store that keeps states in memory: for tests and runs that need no durability.
///
/// It keeps a journal: a writer's ``WorkflowWriter/append(_:durability:)`` applies events to the
/// stored copy and keeps them, so ``history(_:from:limit:)`` and ``state(_:at:)`` answer as they
/// do on a ``FlatBuffersStore`` for the same run. It enforces one writer per workflow within the
/// process, with fencing epochs as the file stores keep them.
public final class InMemoryStore: TransactionalWorkflowStore, EventStore {
    /// A workflow's kept events: the state saved last (`base`) and the events appended after it.
    private struct Journal {
        var base: WorkflowState
        var events: [WorkflowEvent] = []
        /// The sequence number of the first event ever kept (1 unless the workflow was saved
        /// as whole states before its events were journaled).
        var first: UInt64
    }

    private struct Contents {
        var states: [WorkflowKey: WorkflowState] = [:]
        var journals: [WorkflowKey: Journal] = [:]
        var writers: [WorkflowKey: UInt64] = [:]
        /// The fencing epoch of every workflow ever given a writer, raised at each acquisition.
        var epochs: [WorkflowKey: UInt64] = [:]
        /// Consumer positions (``acknowledge(_:for:through:)``).
        var positions: [WorkflowKey: [String: UInt64]] = [:]
        /// Raised at every change of a state or journal; subscriptions wait for it to move.
        var generation: UInt64 = 0
        /// Subscriptions waiting for the next change, by waiter number.
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0

        /// Marks a change and hands back the waiters to wake (resumed outside the lock).
        mutating func changed() -> [CheckedContinuation<Void, Never>] {
            generation &+= 1
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }

        /// Throws `staleWriter` unless `epoch` is `key`'s current epoch, `writerStopped` when
        /// that writer was released.
        /// Stores a whole state. Its kept events stay when the state is where they lead (a save
        /// after appends, as a compaction is); otherwise the events up to it were not journaled
        /// and the history starts after it.
        mutating func keep(_ state: WorkflowState, for key: WorkflowKey) {
            states[key] = state
            if let journal = journals[key],
                (journal.events.last?.sequence ?? journal.base.lastSequence) == state.lastSequence
            {
                return
            }
            journals[key] = Journal(base: state, first: state.lastSequence &+ 1)
        }

        func check(_ key: WorkflowKey, epoch: UInt64) throws(FlowError) {
            let current = epochs[key] ?? 0
            guard current == epoch else { throw FlowError.staleWriter(key, epoch: epoch, current: current) }
            guard writers[key] == epoch else {
                throw FlowError(.writerStopped, "workflow \(key): the writer of epoch \(epoch) was released")
            }
        }
    }

    private let contents = Mutex(Contents())

    /// An empty store.
    public init() {}

    public var supportsJournal: Bool { true }

    /// Stores every state or none (all keys are checked first); durable for the life of this object.
    public func saveAll(_ states: [WorkflowState], durability: Durability) async throws {
        let keyed = try states.map { (try WorkflowKey(tenant: $0.tenant, id: $0.id), $0) }
        guard Set(keyed.map(\.0)).count == keyed.count else {
            throw FlowError(.invalidArgument, "a transaction saves one of \(keyed.map(\.0.description)) twice")
        }
        let woken = try contents.withLock { contents throws(FlowError) in
            for (key, _) in keyed where contents.writers[key] != nil {
                throw FlowError(.locked, "workflow \(key) is held by writer \(contents.epochs[key] ?? 0) in this process")
            }
            for (key, state) in keyed {
                contents.keep(state, for: key)
                contents.epochs[key, default: 0] += 1
            }
            return contents.changed()
        }
        for waiter in woken { waiter.resume() }
    }

    /// The stored state; `notFound` when there is none.
    public func load(_ key: WorkflowKey) async throws -> WorkflowState {
        guard let state = contents.withLock({ $0.states[key] }) else {
            throw FlowError(.notFound, "workflow \(key) not found")
        }
        return state
    }

    /// One page of the stored workflows matching `query`.
    public func list(_ query: WorkflowQuery) async throws -> WorkflowPage {
        let summaries = contents.withLock { contents in
            contents.states.sorted { $0.key < $1.key }.map { WorkflowSummary($0.value) }
        }
        return query.page(of: summaries)
    }

    /// Forgets the workflow at once; `notFound` when there is none.
    public func delete(_ key: WorkflowKey) async throws {
        let (removed, woken) = contents.withLock { contents in
            contents.journals[key] = nil
            contents.positions[key] = nil
            return (contents.states.removeValue(forKey: key), contents.changed())
        }
        for waiter in woken { waiter.resume() }
        if removed == nil { throw FlowError(.notFound, "workflow \(key) not found") }
    }

    /// Every kept event of `key` from `from` on, up to `limit`; `historyUnavailable` for
    /// events before the first kept one (the workflow was saved as whole states up to there).
    public func history(_ key: WorkflowKey, from: UInt64 = 1, limit: Int = .max) async throws -> [WorkflowEvent] {
        let journal = try contents.withLock { contents throws(FlowError) -> Journal in
            guard let journal = contents.journals[key] else { throw FlowError(.notFound, "workflow \(key) not found") }
            return journal
        }
        let from = max(1, from)
        guard limit > 0 else { return [] }
        if from < journal.first {
            throw FlowError(
                .historyUnavailable,
                "workflow \(key): events \(from) to \(journal.first - 1) were never journaled: it was saved as whole states (the end or level persistence strategy), which keep the state, not the events")
        }
        return Array(journal.events.lazy.filter { $0.sequence >= from }.prefix(limit))
    }

    /// The state `key` had right after event `sequence`: the saved state the kept events follow,
    /// with those up to `sequence` applied.
    public func state(_ key: WorkflowKey, at sequence: UInt64) async throws -> WorkflowState {
        let (journal, latest) = try contents.withLock { contents throws(FlowError) -> (Journal, UInt64) in
            guard let journal = contents.journals[key], let state = contents.states[key] else {
                throw FlowError(.notFound, "workflow \(key) not found")
            }
            return (journal, state.lastSequence)
        }
        guard sequence <= latest else {
            throw FlowError(.invalidArgument, "workflow \(key) has \(latest) events; there is no event \(sequence)")
        }
        guard sequence >= journal.base.lastSequence else {
            throw FlowError(
                .historyUnavailable,
                "workflow \(key): its state before event \(journal.base.lastSequence) is not kept (it was saved as whole states up to there)")
        }
        var state = journal.base
        try state.apply(journal.events.prefix { $0.sequence <= sequence })
        return state
    }

    // MARK: Subscriptions and consumers

    /// The events of `key` from `from` on, then each new one as a writer of this store appends
    /// it (woken by the append, no polling: `subscription.pollInterval` is not used). A workflow
    /// not created yet is waited for while following. Errors as ``history(_:from:limit:)``.
    public func events(
        _ key: WorkflowKey, from: UInt64, subscription: EventSubscription
    ) -> AsyncThrowingStream<WorkflowEvent, any Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            let task = Task {
                do {
                    try await self.follow(key, from: max(1, from), subscription) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// What a subscription sees of `key` at one moment.
    private struct Sight {
        var events: [WorkflowEvent]
        var first: UInt64
        var status: WorkflowStatus
        var lastSequence: UInt64
    }

    private func follow(
        _ key: WorkflowKey, from: UInt64, _ subscription: EventSubscription, emit: (WorkflowEvent) -> Void
    ) async throws {
        var next = from
        var finished = false
        while !Task.isCancelled {
            let (sight, generation) = contents.withLock { contents -> (Sight?, UInt64) in
                guard let journal = contents.journals[key], let state = contents.states[key] else {
                    return (nil, contents.generation)
                }
                let events = Array(journal.events.lazy.filter { $0.sequence >= next })
                return (
                    Sight(
                        events: events, first: journal.first, status: state.status, lastSequence: state.lastSequence),
                    contents.generation
                )
            }
            if let sight {
                if next < sight.first {
                    throw FlowError(
                        .historyUnavailable,
                        "workflow \(key): events \(next) to \(sight.first - 1) were never journaled: it was saved as whole states (the end or level persistence strategy), which keep the state, not the events")
                }
                for event in sight.events {
                    guard event.sequence == next else {
                        throw FlowError(
                            .historyUnavailable,
                            "workflow \(key): events \(next) to \(event.sequence - 1) are not kept (saved as a whole state)")
                    }
                    emit(event)
                    next += 1
                    if event.kind == .workflowFinished { finished = true }
                    if subscription.untilFinished, finished { return }
                }
                if !subscription.follow { return }
                // Past the end of a finished workflow: no workflowFinished event is coming.
                if subscription.untilFinished, sight.status.isFinished, sight.lastSequence < next { return }
            } else if !subscription.follow {
                throw FlowError(.notFound, "workflow \(key) not found")
            }
            await waitForChange(after: generation)
        }
    }

    /// Returns once the store has changed since `generation` (at once if it already has), or
    /// when the calling task is cancelled.
    private func waitForChange(after generation: UInt64) async {
        let number = contents.withLock { contents in
            defer { contents.nextWaiter += 1 }
            return contents.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = contents.withLock { contents -> Bool in
                    if contents.generation != generation || Task.isCancelled { return true }
                    contents.waiters[number] = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            contents.withLock { $0.waiters.removeValue(forKey: number) }?.resume()
        }
    }

    /// How many subscriptions wait for a change now (tests wait on it).
    var waitingSubscriptions: Int { contents.withLock { $0.waiters.count } }

    /// The last sequence number `consumer` acknowledged for `key`; 0 when it never did.
    public func position(of consumer: String, for key: WorkflowKey) async throws -> UInt64 {
        try Names.validate(consumer, as: "consumer", code: .invalidID)
        return contents.withLock { $0.positions[key]?[consumer] ?? 0 }
    }

    /// Records that `consumer` has handled every event of `key` up to `sequence`; kept for the
    /// life of the store. Positions never move backwards.
    public func acknowledge(_ consumer: String, for key: WorkflowKey, through sequence: UInt64) async throws {
        try Names.validate(consumer, as: "consumer", code: .invalidID)
        contents.withLock { contents in
            contents.positions[key, default: [:]][consumer] = max(sequence, contents.positions[key]?[consumer] ?? 0)
        }
    }

    /// Becomes the workflow's writer; `locked` while another writer of this store holds it.
    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        try acquireWriter(key, ignoringHolder: false)
    }

    /// The writer of `key`; with `ignoringHolder`, even while another holds it (tests of fencing
    /// use this to stand for a writer that skipped the lock).
    func acquireWriter(_ key: WorkflowKey, ignoringHolder: Bool) throws(FlowError) -> Writer {
        let epoch = try contents.withLock { contents throws(FlowError) -> UInt64 in
            if !ignoringHolder, let holder = contents.writers[key] {
                throw FlowError(.locked, "workflow \(key) is held by writer \(holder) in this process")
            }
            let epoch = (contents.epochs[key] ?? 0) + 1
            contents.epochs[key] = epoch
            contents.writers[key] = epoch
            return epoch
        }
        return Writer(store: self, key: key, epoch: epoch)
    }

    struct Writer: WorkflowWriter {
        let store: InMemoryStore
        let key: WorkflowKey
        let epoch: UInt64

        /// Stores `state`; durable for the life of the store.
        func save(_ state: WorkflowState, durability: Durability) async throws {
            guard state.tenant == key.tenant, state.id == key.id else { throw FlowError.wrongWorkflow(state, writer: key) }
            let woken = try store.contents.withLock { contents throws(FlowError) in
                try contents.check(key, epoch: epoch)
                contents.keep(state, for: key)
                return contents.changed()
            }
            for waiter in woken { waiter.resume() }
        }

        /// Applies `events` to the stored state; durable for the life of the store.
        func append(_ events: [WorkflowEvent], durability: Durability) async throws {
            let woken = try store.contents.withLock { contents throws(FlowError) in
                try contents.check(key, epoch: epoch)
                guard contents.states[key] != nil else {
                    throw FlowError(.notFound, "workflow \(key) not found")
                }
                try contents.states[key]!.apply(events)
                contents.journals[key]?.events.append(contentsOf: events)
                return contents.changed()
            }
            for waiter in woken { waiter.resume() }
        }

        func release() async {
            store.contents.withLock { contents in
                if contents.writers[key] == epoch { contents.writers[key] = nil }
            }
        }
    }
}
