import Foundation
import Synchronization

@testable import FlowOrchestrator

/// A thread-safe log of what node actions did, for assertions.
final class Recorder: Sendable {
    private let entries = Mutex<[String]>([])
    private let inFlight = Mutex<(now: Int, peak: Int)>((0, 0))

    func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    func count(_ entry: String) -> Int { all.count { $0 == entry } }
    func position(_ entry: String) -> Int? { all.firstIndex(of: entry) }

    /// Counts the action as running for the duration of `body`, tracking the peak.
    func running<T>(_ body: () async throws -> T) async rethrows -> T {
        inFlight.withLock { state in
            state.now += 1
            state.peak = max(state.peak, state.now)
        }
        defer { inFlight.withLock { $0.now -= 1 } }
        return try await body()
    }

    var peak: Int { inFlight.withLock { $0.peak } }
}

/// A store wrapper that counts calls and can check what was durable when.
final class CountingStore: WorkflowStore {
    let inner = InMemoryStore()
    private let counts = Mutex<(saves: Int, appends: Int, appendedEvents: Int)>((0, 0, 0))
    let journal: Bool

    init(journal: Bool = true) { self.journal = journal }

    var saves: Int { counts.withLock { $0.saves } }
    var appends: Int { counts.withLock { $0.appends } }
    var supportsJournal: Bool { journal }

    func save(_ state: WorkflowState, durability: Durability, through writer: any WorkflowWriter) async throws {
        counts.withLock { $0.saves += 1 }
        try await writer.save(state, durability: durability)
    }

    func load(_ key: WorkflowKey) async throws -> WorkflowState { try await inner.load(key) }
    func list(_ query: WorkflowQuery) async throws -> WorkflowPage { try await inner.list(query) }
    func delete(_ key: WorkflowKey) async throws { try await inner.delete(key) }

    func append(_ events: [WorkflowEvent], durability: Durability, through writer: any WorkflowWriter) async throws {
        counts.withLock {
            $0.appends += 1
            $0.appendedEvents += events.count
        }
        try await writer.append(events, durability: durability)
    }

    func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        ForwardingWriter(inner: try await inner.acquireWriter(key), onSave: save, onAppend: append)
    }
}

/// A store whose synced writes fail after the first `allowed` ones (unsynced appends, which
/// publish node starts, always succeed).
final class FailingStore: WorkflowStore {
    let inner = InMemoryStore()
    private let writes = Mutex(0)
    let allowed: Int

    init(allowedWrites: Int) { allowed = allowedWrites }

    var supportsJournal: Bool { true }

    private func charge() throws {
        let n = writes.withLock { count in
            count += 1
            return count
        }
        if n > allowed { throw FlowError(.io, "injected write failure \(n)") }
    }

    func save(_ state: WorkflowState, durability: Durability, through writer: any WorkflowWriter) async throws {
        try charge()
        try await writer.save(state, durability: durability)
    }

    func load(_ key: WorkflowKey) async throws -> WorkflowState { try await inner.load(key) }
    func list(_ query: WorkflowQuery) async throws -> WorkflowPage { try await inner.list(query) }
    func delete(_ key: WorkflowKey) async throws { try await inner.delete(key) }

    func append(_ events: [WorkflowEvent], durability: Durability, through writer: any WorkflowWriter) async throws {
        if durability == .fsync { try charge() }
        try await writer.append(events, durability: durability)
    }

    func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        ForwardingWriter(inner: try await inner.acquireWriter(key), onSave: save, onAppend: append)
    }
}

/// A writer whose writes go through a wrapping store's methods, which pass them on to `inner`.
struct ForwardingWriter: WorkflowWriter {
    let inner: any WorkflowWriter
    let onSave: @Sendable (WorkflowState, Durability, any WorkflowWriter) async throws -> Void
    let onAppend: @Sendable ([WorkflowEvent], Durability, any WorkflowWriter) async throws -> Void

    var key: WorkflowKey { inner.key }
    var epoch: UInt64 { inner.epoch }
    func save(_ state: WorkflowState, durability: Durability) async throws { try await onSave(state, durability, inner) }
    func append(_ events: [WorkflowEvent], durability: Durability) async throws {
        try await onAppend(events, durability, inner)
    }
    func release() async { await inner.release() }
}

extension WorkflowStore {
    /// Saves `state` through a writer of its own, released afterwards (tests that set a store up).
    func saveState(_ state: WorkflowState, durability: Durability = .fsync) async throws {
        try await withWriter(WorkflowKey(tenant: state.tenant, id: state.id)) { writer in
            try await writer.save(state, durability: durability)
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
