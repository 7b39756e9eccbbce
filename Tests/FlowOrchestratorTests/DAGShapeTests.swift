import Foundation
import Testing

@testable import FlowOrchestrator

/// The DAG's shape stored with the state, so tools with only the store can draw and reset it.
@Suite("DAG shape stored with the state")
struct DAGShapeTests {
    /// fetch → parse, fetch → lint, {parse, lint} → publish; `standalone` has no edges.
    static func dag() throws -> DAG {
        var dag = DAG()
        try dag.addNode("fetch") { _ in .empty }
        try dag.addNode("standalone") { _ in .empty }
        try dag.addNode("parse", dependsOn: ["fetch"]) { _ in .empty }
        try dag.addNode("lint", dependsOn: ["fetch"]) { _ in .empty }
        try dag.addNode("publish", dependsOn: ["lint", "parse"]) { _ in .empty }
        return dag
    }

    @Test("DAGShape lists each node's dependencies in the DAG's order")
    func shapeOfDAG() throws {
        let shape = DAGShape(try Self.dag())
        #expect(shape.edges.map { [$0.node, $0.dependency] } == [[2, 0], [3, 0], [4, 3], [4, 2]])
        #expect(shape.dependencies(ofNode: 4) == [3, 2])
        #expect(shape.dependencies(ofNode: 1) == [])
        #expect(shape.dependencies(ofNode: 0) == [])
        #expect(shape.problem(nodeCount: 5) == nil)
        #expect(shape.problem(nodeCount: 4)?.contains("past the last") == true)
        #expect(DAGShape(edges: [.init(node: 1, dependency: 1)]).problem(nodeCount: 2)?.contains("itself") == true)
        #expect(DAGShape(edges: [.init(node: 1, dependency: 0), .init(node: 1, dependency: 0)]).problem(nodeCount: 2)?.contains("repeats") == true)
        #expect(DAGShape(edges: [.init(node: 2, dependency: 0), .init(node: 1, dependency: 0)]).problem(nodeCount: 3)?.contains("out of order") == true)
    }

    @Test("execute() stores the shape with the state on every store", arguments: ["flatbuffers", "json", "memory"])
    func executeStoresShape(_ kind: String) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store: any WorkflowStore =
            switch kind {
            case "flatbuffers": try FlatBuffersStore(directory: directory.path)
            case "json": try JSONFileStore(directory: directory.path)
            default: InMemoryStore()
            }
        let dag = try Self.dag()
        let key = try WorkflowKey(id: "shaped")
        let result = try await Workflow(key: key, dag: dag, store: store).execute()
        #expect(result.status == .completed)
        // Loaded by a fresh store object, so the shape comes from the files.
        let reopened: any WorkflowStore =
            switch kind {
            case "flatbuffers": try FlatBuffersStore(directory: directory.path)
            case "json": try JSONFileStore(directory: directory.path)
            default: store
            }
        let state = try await reopened.load(key)
        #expect(state.shape == DAGShape(dag))
        #expect(state.nodes.map(\.name) == dag.nodeNames)
    }

    @Test("a state stored without a shape keeps none when saved and gets one when a run resumes it")
    func oldStateGetsShape() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let dag = try Self.dag()
        let key = try WorkflowKey(id: "old")
        var old = WorkflowState(id: key.id, tenant: key.tenant, fingerprint: dag.fingerprint, nodeNames: dag.nodeNames)
        old.status = .running
        let writer = try await store.acquireWriter(key)
        try await writer.save(old, durability: .fsync)
        await writer.release()
        #expect(try await store.load(key).shape == nil)
        let result = try await Workflow(key: key, dag: dag, store: store).execute()
        #expect(result.state.shape == DAGShape(dag))
    }

    @Test("a stored shape that breaks the rules is corruptData naming the file")
    func badShapeInJSON() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let dag = try Self.dag()
        let key = try WorkflowKey(id: "bad")
        _ = try await Workflow(key: key, dag: dag, store: try JSONFileStore(directory: directory.path)).execute()
        let path = "\(directory.path)/default/bad/state.json"
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        object["shape"] = [[4, 9]]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) { try await JSONFileStore(directory: directory.path).load(key) }
        #expect(error?.code == .corruptData, "\(String(describing: error))")
        #expect(error?.message.contains("state.json") == true && error?.message.contains("past the last") == true, "\(String(describing: error))")
    }

    @Test("resuming with a changed DAG (allowed) stores the new shape")
    func reconcileUpdatesShape() async throws {
        let store = InMemoryStore()
        let key = try WorkflowKey(id: "changing")
        _ = try await Workflow(key: key, dag: try Self.dag(), store: store).execute()
        var changed = try Self.dag()
        try changed.addNode("announce", dependsOn: ["publish"]) { _ in .empty }
        var options = ExecutionOptions()
        options.allowDAGChange = true
        let result = try await Workflow(key: key, dag: changed, store: store, options: options).execute()
        #expect(result.state.shape == DAGShape(changed))
        #expect(try await store.load(key).shape?.dependencies(ofNode: 5) == [4])
    }
}
