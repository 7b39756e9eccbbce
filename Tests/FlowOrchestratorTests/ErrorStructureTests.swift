import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// Errors carry their context in fields (path, workflow, the failed system call) and say each
/// cause once.
@Suite("Error structure")
struct ErrorStructureTests {
    /// How many times `part` occurs in `text`.
    private func occurrences(of part: String, in text: String) -> Int {
        text.components(separatedBy: part).count - 1
    }

    @Test("a full disk during a run: the error's system call is ENOSPC, its path the journal, its text said once")
    func diskFullDuringRun() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        var dag = DAG()
        for index in 0..<3 {
            try dag.addNode("n\(index)", dependsOn: index > 0 ? ["n\(index - 1)"] : []) { context in
                // The disk fills while n1 runs: its end cannot be written.
                if context.node == "n1" { layer.arm(.failWrites(after: 0, errno: ENOSPC)) }
                return .empty
            }
        }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let workflow = Workflow(key: try WorkflowKey(id: "full"), dag: dag, store: store, options: ExecutionOptions(persistence: .node))
        let error = try #require(await #expect(throws: FlowError.self) { try await workflow.execute() })
        layer.arm(nil)
        #expect(layer.injectedWriteFaults > 0, "the fault layer failed no write")
        #expect(error.code == .persistenceFailed)
        let call = try #require(error.systemCallError, "\(error)")
        #expect(call.errno == ENOSPC)
        #expect(call.isNoSpace)
        #expect(call.systemCall == "pwrite")
        #expect(call.description == "pwrite: No space left on device (errno 28)")
        #expect(error.path?.hasSuffix("/default/full/journal.log") == true, "\(String(describing: error.path))")
        let text = error.description
        #expect(occurrences(of: "No space left on device", in: text) == 1, "\(text)")
        #expect(occurrences(of: "journal.log", in: text) == 1, "\(text)")
    }

    @Test("a journal write failure from a run names the workflow and the node in its fields, at every layer")
    func journalFailureNamesWorkflowAndNode() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        var dag = DAG()
        try dag.addNode("fetch") { _ in .empty }
        try dag.addNode("parse", dependsOn: ["fetch"]) { _ in
            // The disk fails while parse runs: its end cannot be written.
            layer.arm(.failWrites(after: 0, errno: EIO))
            return .empty
        }
        let key = try WorkflowKey(tenant: "acme", id: "named")
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let error = try #require(await #expect(throws: FlowError.self) { try await Workflow(key: key, dag: dag, store: store).execute() })
        layer.arm(nil)
        #expect(layer.injectedWriteFaults > 0, "the fault layer failed no write")
        #expect(error.code == .persistenceFailed)
        #expect(error.workflow == key, "\(error)")
        #expect(error.node == "parse", "\(error)")
        // The journal's own error, under the persister's, names them too.
        let inner = try #require(error.cause as? FlowError, "\(error)")
        #expect(inner.workflow == key && inner.node == "parse", "\(inner)")
        #expect(inner.path?.hasSuffix("/acme/named/journal.log") == true)
        #expect(error.systemCallError?.errno == EIO)

        // A later append through the stopped writer says so, naming the workflow in the field.
        let writer = try await store.acquireWriter(key)
        await writer.release()
        let released = await #expect(throws: FlowError.self) {
            try await writer.append(
                [WorkflowEvent(sequence: 1_000, time: .nowMicroseconds(), change: .dataSet(key: "k", value: nil))],
                durability: .fsync)
        }
        #expect(released?.workflow == key, "\(String(describing: released))")
    }

    @Test("wrapping a FlowError keeps its context and does not repeat its text")
    func wrapping() {
        let inner = FlowError(
            .io, "writing /s/a: Permission denied (errno 13)", cause: SystemCallError(systemCall: "write", errno: EACCES),
            path: "/s/a", workflow: try? WorkflowKey(id: "w"), node: "n")
        let outer = FlowError(.persistenceFailed, "workflow default/w: could not persist changes", cause: inner)
        #expect(outer.path == "/s/a")
        #expect(outer.node == "n")
        #expect(outer.workflow == (try? WorkflowKey(id: "w")))
        #expect(outer.systemCallError == SystemCallError(systemCall: "write", errno: EACCES))
        #expect(outer.systemCallError?.isNoSpace == false)
        // The outer message lacks the inner one: it is added once, its system call not again.
        #expect(outer.description == "workflow default/w: could not persist changes (writing /s/a: Permission denied (errno 13))")
        // A message that already holds the cause's text is printed alone.
        let saying = FlowError(.persistenceFailed, "could not persist: \(inner.message)", cause: inner)
        #expect(saying.description == "could not persist: writing /s/a: Permission denied (errno 13)")
        // A bare system call cause is shown with its call's name.
        let bare = FlowError(.io, "syncing /s/b", cause: SystemCallError(systemCall: "fsync", errno: EIO))
        #expect(bare.description == "syncing /s/b (fsync: Input/output error (errno 5))")
    }
}
