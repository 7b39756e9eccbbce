import Foundation
import Testing

@testable import FlowOrchestrator

@Suite("Durable defaults")
struct DefaultsTests {
    private func chain() throws -> DAG {
        var dag = DAG()
        try dag.addNode("a") { _ in .text("A") }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .text("B") }
        return dag
    }

    @Test("ExecutionOptions() schedules by dependencies, journals every status change and syncs it")
    func defaults() throws {
        let options = ExecutionOptions()
        guard case .dependencies = options.scheduling else {
            Issue.record("default scheduling is \(options.scheduling), not dependencies")
            return
        }
        #expect(options.persistence == .node)
        #expect(options.durability == .fsync)
        guard case .failFast = options.failurePolicy else {
            Issue.record("default failure policy is \(options.failurePolicy), not failFast")
            return
        }
    }

    @Test("a workflow run with the default options has its whole history on a FlatBuffersStore")
    func defaultRunIsJournaled() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let result = try await Workflow(id: "w", dag: try chain(), store: store).execute()
        #expect(result.status == .completed)
        let history = try await store.history(WorkflowKey(id: "w"))
        #expect(history.map(\.sequence) == Array(1...result.state.lastSequence))
        #expect(history.filter { $0.kind == .nodeCompleted }.compactMap(\.node) == ["a", "b"])
    }

    @Test("the history of a workflow that was never journaled says so")
    func neverJournaled() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        for (id, persistence) in [("end", PersistenceStrategy.end), ("level", .level)] {
            var options = ExecutionOptions()
            options.persistence = persistence
            #expect(try await Workflow(id: id, dag: try chain(), store: store, options: options).execute().status == .completed)
            let error = await #expect(throws: FlowError.self) { try await store.history(WorkflowKey(id: id)) }
            #expect(error?.code == .historyUnavailable)
            #expect(error?.message.contains("never journaled") == true, "\(String(describing: error))")
            #expect(error?.message.contains("end or level persistence strategy") == true)
        }
    }

    @Test("history compacted away without keepHistory says that, not never journaled")
    func compactedAway() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(
            directory: directory.path, options: .init(compactAfterRecords: 2, keepHistory: false))
        #expect(try await Workflow(id: "w", dag: try chain(), store: store).execute().status == .completed)
        let error = await #expect(throws: FlowError.self) { try await store.history(WorkflowKey(id: "w")) }
        #expect(error?.code == .historyUnavailable)
        #expect(error?.message.contains("compacted away without keepHistory") == true, "\(String(describing: error))")
    }
}
