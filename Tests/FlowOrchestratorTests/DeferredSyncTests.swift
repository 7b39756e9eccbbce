import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// A journaling store that tracks what is written and what is synced: a `.fsync` append makes
/// everything written so far durable (as `fdatasync` does); a `.buffered` one only writes.
final class SyncTrackingStore: WorkflowStore {
    let inner = InMemoryStore()

    private struct Track {
        var written: UInt64 = 0
        var synced: UInt64 = 0
        var syncs = 0
        /// The sequence number of each node's completion, once written.
        var completions: [String: UInt64] = [:]
    }

    private let track = Mutex(Track())

    var supportsJournal: Bool { true }

    /// Everything up to here has been synced.
    var synced: UInt64 { track.withLock { $0.synced } }
    /// How many appends synced.
    var syncs: Int { track.withLock { $0.syncs } }

    /// Whether `node`'s completion has been written and synced.
    func completionIsDurable(_ node: String) -> Bool {
        track.withLock { track in track.completions[node].map { $0 <= track.synced } ?? false }
    }

    func save(_ state: WorkflowState, durability: Durability, through writer: any WorkflowWriter) async throws {
        try await writer.save(state, durability: durability)
        track.withLock { track in
            track.written = max(track.written, state.lastSequence)
            if durability == .fsync { track.synced = track.written }
        }
    }

    func append(_ events: [WorkflowEvent], durability: Durability, through writer: any WorkflowWriter) async throws {
        try await writer.append(events, durability: durability)
        track.withLock { track in
            for event in events {
                track.written = max(track.written, event.sequence)
                if event.kind == .nodeCompleted, let node = event.node { track.completions[node] = event.sequence }
            }
            if durability == .fsync {
                track.synced = track.written
                track.syncs += 1
            }
        }
    }

    func load(_ key: WorkflowKey) async throws -> WorkflowState { try await inner.load(key) }
    func list(_ query: WorkflowQuery) async throws -> WorkflowPage { try await inner.list(query) }
    func delete(_ key: WorkflowKey) async throws { try await inner.delete(key) }
    func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        ForwardingWriter(inner: try await inner.acquireWriter(key), onSave: save, onAppend: append)
    }
}

/// With the node strategy, completions are synced when a dependent needs them (or a little
/// later), never after their dependents start (ADR 2).
@Suite("Deferred syncs")
struct DeferredSyncTests {
    /// `levels` levels of `width` nodes; each node after the first level needs two of the level
    /// before. Every action records the dependencies it found not yet durable.
    private func layered(
        levels: Int, width: Int, store: SyncTrackingStore, problems: Recorder, ran: Recorder
    ) throws -> DAG {
        var dag = DAG()
        for level in 0..<levels {
            for i in 0..<width {
                let needs = level == 0 ? [] : ["l\(level - 1)n\(i)", "l\(level - 1)n\((i + 1) % width)"]
                try dag.addNode("l\(level)n\(i)", dependsOn: needs) { context in
                    for dependency in needs where !store.completionIsDurable(dependency) {
                        problems.record("\(context.node) started before \(dependency)'s end was synced")
                    }
                    ran.record(context.node)
                    return .text(context.node)
                }
            }
        }
        return dag
    }

    private func options(concurrency: Int) -> ExecutionOptions {
        ExecutionOptions(
            maxConcurrency: concurrency, scheduling: .dependencies, persistence: .node, durability: .fsync)
    }

    @Test("every dependency's end is synced before its dependent starts", arguments: [1, 2, 4, 16])
    func dependenciesAreDurable(concurrency: Int) async throws {
        let store = SyncTrackingStore()
        let problems = Recorder()
        let ran = Recorder()
        let dag = try layered(levels: 8, width: 12, store: store, problems: problems, ran: ran)
        let result = try await Workflow(id: "layers", dag: dag, store: store, options: options(concurrency: concurrency))
            .execute()
        #expect(result.status == .completed)
        let firstProblem = problems.all.first
        #expect(firstProblem == nil)
        #expect(ran.all.count == 96)
        #expect(try await store.load(WorkflowKey(id: "layers")) == result.state)
        #expect(store.synced == result.state.lastSequence)
    }

    @Test("completions made while other nodes are ready share a sync, beyond the concurrency bound")
    func completionsShareSyncs() async throws {
        let store = SyncTrackingStore()
        var dag = DAG()
        for i in 0..<400 {
            try dag.addNode("n\(i)") { _ in .empty }
        }
        let result = try await Workflow(id: "wide", dag: dag, store: store, options: options(concurrency: 4)).execute()
        #expect(result.status == .completed)
        // One sync per concurrency-bound batch would be at least 100.
        #expect(store.syncs < 50, "\(store.syncs) syncs for 400 completions")
        #expect(store.synced == result.state.lastSequence)
    }

    @Test("a completion no dependent needs yet is synced soon, not only when the run ends")
    func lateCompletionIsSynced() async throws {
        let store = SyncTrackingStore()
        let sawSync = Mutex(false)
        var dag = DAG()
        try dag.addNode("quick") { _ in .text("done") }
        // Runs after `quick` (one worker), while nothing needs `quick`'s end to be durable.
        try dag.addNode("long") { _ in
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if store.completionIsDurable("quick") {
                    sawSync.withLock { $0 = true }
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            return .empty
        }
        let result = try await Workflow(id: "late", dag: dag, store: store, options: options(concurrency: 1)).execute()
        #expect(result.status == .completed)
        #expect(sawSync.withLock { $0 }, "quick's completion stayed unsynced while long ran")
    }

    @Test("a failed sync of waiting completions stops the run before any dependent starts")
    func failedDeferredSync() async throws {
        // Allowed: the new state's save. The first sync, which covers the first level's
        // completions, fails.
        let store = FailingStore(allowedWrites: 1)
        let ran = Recorder()
        var dag = DAG()
        for i in 0..<10 {
            try dag.addNode("a\(i)") { context in
                ran.record(context.node)
                return .empty
            }
        }
        for i in 0..<10 {
            try dag.addNode("b\(i)", dependsOn: ["a\(i)"]) { context in
                ran.record(context.node)
                return .empty
            }
        }
        let error = await #expect(throws: FlowError.self) {
            try await Workflow(id: "fails", dag: dag, store: store, options: options(concurrency: 2)).execute()
        }
        #expect(error?.code == .persistenceFailed)
        #expect(!ran.all.contains { $0.hasPrefix("b") }, "\(ran.all)")
    }
}
