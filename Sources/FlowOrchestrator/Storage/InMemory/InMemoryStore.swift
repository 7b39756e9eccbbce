import Foundation
import Synchronization

/// A store that keeps states in memory: for tests and runs that need no durability.
///
/// It keeps a journal in the sense that ``append(_:to:durability:)`` applies events to the stored
/// copy without copying it, and it enforces one writer per workflow within the process.
public final class InMemoryStore: TransactionalWorkflowStore {
    private struct Contents {
        var states: [WorkflowKey: WorkflowState] = [:]
        var writers: [WorkflowKey: UInt64] = [:]
        var nextLease: UInt64 = 1
    }

    private let contents = Mutex(Contents())

    /// An empty store.
    public init() {}

    public var supportsJournal: Bool { true }

    /// Stores `state`; durable for the life of this object.
    public func save(_ state: WorkflowState, durability: Durability) async throws {
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        contents.withLock { $0.states[key] = state }
    }

    /// Stores every state or none (all keys are checked first); durable for the life of this object.
    public func saveAll(_ states: [WorkflowState], durability: Durability) async throws {
        let keyed = try states.map { (try WorkflowKey(tenant: $0.tenant, id: $0.id), $0) }
        guard Set(keyed.map(\.0)).count == keyed.count else {
            throw FlowError(.invalidArgument, "a transaction saves one of \(keyed.map(\.0.description)) twice")
        }
        contents.withLock { contents in
            for (key, state) in keyed { contents.states[key] = state }
        }
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
        let removed = contents.withLock { $0.states.removeValue(forKey: key) }
        if removed == nil { throw FlowError(.notFound, "workflow \(key) not found") }
    }

    /// Applies `events` to the stored state; durable for the life of this object.
    public func append(_ events: [WorkflowEvent], to key: WorkflowKey, durability: Durability) async throws {
        try contents.withLock { contents throws(FlowError) in
            guard contents.states[key] != nil else {
                throw FlowError(.notFound, "workflow \(key) not found")
            }
            try contents.states[key]!.apply(events)
        }
    }

    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowLease {
        let lease = try contents.withLock { contents throws(FlowError) -> UInt64 in
            if let holder = contents.writers[key] {
                throw FlowError(.locked, "workflow \(key) is held by writer \(holder) in this process")
            }
            let lease = contents.nextLease
            contents.nextLease += 1
            contents.writers[key] = lease
            return lease
        }
        return Lease(store: self, key: key, lease: lease)
    }

    private struct Lease: WorkflowLease {
        let store: InMemoryStore
        let key: WorkflowKey
        let lease: UInt64

        func release() async {
            store.contents.withLock { contents in
                if contents.writers[key] == lease { contents.writers[key] = nil }
            }
        }
    }
}
