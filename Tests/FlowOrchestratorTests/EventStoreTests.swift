import Foundation
import Testing

@testable import FlowOrchestrator

@Suite("EventStore: the same events on every journaling store")
struct EventStoreTests {
    /// A chain (so the order of events is fixed) with a retried node, a failed one and a skipped dependent.
    private func dag() throws -> DAG {
        var dag = DAG()
        try dag.addNode("a") { _ in .text("A") }
        try dag.addNode("b", dependsOn: ["a"], retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1), jitter: 0)) { context in
            if context.attempt == 1 { throw TestFailure("first try") }
            return .text("B")
        }
        try dag.addNode("c", dependsOn: ["b"]) { _ in throw TestFailure("c broke") }
        try dag.addNode("d", dependsOn: ["c"]) { _ in .text("D") }
        return dag
    }

    private func run(on store: some EventStore, persistence: PersistenceStrategy = .node) async throws -> WorkflowState {
        let options = ExecutionOptions(failurePolicy: .continueIndependent, persistence: persistence)
        return try await Workflow(key: try WorkflowKey(id: "same"), dag: try dag(), store: store, options: options).execute().state
    }

    @Test("the in-memory store's history equals the file store's for the same run, and so do past states")
    func inMemoryHistoryEqualsFileHistory() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let files = try FlatBuffersStore(directory: directory.path)
        let memory = InMemoryStore()
        let fileEnd = try await run(on: files)
        let memoryEnd = try await run(on: memory)
        let key = try WorkflowKey(id: "same")
        let fileHistory = try await files.history(key)
        let memoryHistory = try await memory.history(key)
        // The same changes, numbered alike; only the times differ.
        #expect(fileHistory.count == Int(fileEnd.lastSequence))
        #expect(fileHistory.map(\.sequence) == memoryHistory.map(\.sequence))
        #expect(fileHistory.map(\.change) == memoryHistory.map(\.change))
        #expect(memoryHistory.contains { if case .nodeRetried(node: "b", attempt: 1, _, error: _) = $0.change { true } else { false } })
        #expect(try await memory.history(key, from: 3, limit: 2).map(\.sequence) == [3, 4])
        #expect(memoryEnd.nodes.map(\.status) == fileEnd.nodes.map(\.status))
        for sequence in [0, 1, 5, memoryEnd.lastSequence] as [UInt64] {
            let fromFiles = try await files.state(key, at: sequence)
            let fromMemory = try await memory.state(key, at: sequence)
            #expect(fromFiles.lastSequence == sequence && fromMemory.lastSequence == sequence)
            #expect(fromFiles.nodes.map(\.status) == fromMemory.nodes.map(\.status), "at \(sequence)")
        }
        await #expect(throws: FlowError.self) { try await memory.state(key, at: memoryEnd.lastSequence + 1) }
    }

    @Test("the history of a workflow that was never journaled says so, on both stores")
    func neverJournaled() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let stores: [any EventStore] = [try FlatBuffersStore(directory: directory.path), InMemoryStore()]
        for store in stores {
            let end = try await run(on: store, persistence: .end)
            #expect(end.lastSequence > 0)
            let error = await #expect(throws: FlowError.self) { try await store.history(WorkflowKey(id: "same")) }
            #expect(error?.code == .historyUnavailable, "\(type(of: store))")
            #expect(error?.message.contains("never journaled") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("compacted") == false)
        }
        let missing = await #expect(throws: FlowError.self) { try await InMemoryStore().history(WorkflowKey(id: "none")) }
        #expect(missing?.code == .notFound)
    }
}
