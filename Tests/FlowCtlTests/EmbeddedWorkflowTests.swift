import FlowOrchestrator
import Foundation
import Testing

/// flowctl on workflows that a program started with the library (no definition file stored).
@Suite("flowctl on embedded workflows")
struct EmbeddedWorkflowTests {
    struct LintFailed: Error, CustomStringConvertible {
        var description: String { "lint found 3 problems" }
    }

    /// fetch → parse, fetch → lint, {lint, parse} → publish; lint fails unless `lintPasses`.
    static func dag(lintPasses: Bool) throws -> DAG {
        var dag = DAG()
        try dag.addNode("fetch") { _ in .empty }
        try dag.addNode("parse", dependsOn: ["fetch"]) { _ in .empty }
        try dag.addNode("lint", dependsOn: ["fetch"]) { _ in
            if !lintPasses { throw LintFailed() }
            return .empty
        }
        try dag.addNode("publish", dependsOn: ["lint", "parse"]) { _ in .empty }
        return dag
    }

    @Test("status, graph, history and reset work on a program's workflow; resume exits 3 saying its program resumes it")
    func inspectAndRepair() async throws {
        let sandbox = try Sandbox()
        let key = try WorkflowKey(id: "embedded")
        // The program: the library's defaults (what flowctl uses), a store in the sandbox.
        let store = try FlatBuffersStore(directory: sandbox.store)
        let first = try await Workflow(key: key, dag: try Self.dag(lintPasses: false), store: store).execute()
        #expect(first.status == .failed)

        let status = try await sandbox.run(["status", "embedded"])
        #expect(status.status == 0, "\(status)")
        #expect(status.stdout.contains("workflow default/embedded: failed"), "\(status)")
        #expect(status.stdout.contains("lint found 3 problems"), "\(status)")

        let dot = try await sandbox.run(["graph", "embedded"])
        #expect(dot.status == 0, "\(dot)")
        for edge in [#""fetch" -> "parse""#, #""fetch" -> "lint""#, #""lint" -> "publish""#, #""parse" -> "publish""#] {
            #expect(dot.stdout.contains(edge), "\(edge) in \(dot)")
        }
        #expect(dot.stdout.components(separatedBy: " -> ").count == 5, "exactly four edges: \(dot)")
        #expect(dot.stdout.contains(##""lint" [label="lint\nfailed", fillcolor="#ffcdd2""##), "\(dot)")
        let mermaid = try await sandbox.run(["graph", "embedded", "--format", "mermaid"])
        #expect(mermaid.status == 0 && mermaid.stdout.contains("n2 --> n3"), "\(mermaid)")

        let history = try await sandbox.run(["history", "embedded", "--format", "json"])
        #expect(history.status == 0, "\(history)")
        let kinds = history.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["kind"] as? String
        }
        #expect(kinds.first == "workflow.started" && kinds.last == "workflow.finished", "\(history)")
        #expect(kinds.contains("node.failed"), "\(history)")

        let resume = try await sandbox.run(["resume", "embedded"])
        #expect(resume.status == 3, "\(resume)")
        #expect(
            resume.stderr
                == "flowctl: error: workflow default/embedded was started by a program, not from a definition file: its program resumes it (by running it again with Workflow.execute()); flowctl status, graph, history and reset work on it\n",
            "\(resume)")

        let reset = try await sandbox.run(["reset", "embedded", "--failed"])
        #expect(reset.status == 0, "\(reset)")
        #expect(reset.stdout.contains("reset 1 node of workflow embedded: lint"), "\(reset)")
        let unknown = try await sandbox.run(["reset", "embedded", "--node", "nope"])
        #expect(unknown.status == 2, "\(unknown)")
        let descendants = try await sandbox.run(["reset", "embedded", "--node", "fetch", "--descendants"])
        #expect(descendants.status == 0, "\(descendants)")
        let afterReset = try await FlatBuffersStore(directory: sandbox.store).load(key)
        #expect(afterReset.nodes.allSatisfy { $0.status == .pending }, "\(afterReset.nodes.map { ($0.name, $0.status) })")

        // The program resumes what flowctl reset, as it would after any repair.
        let second = try await Workflow(
            key: key, dag: try Self.dag(lintPasses: true), store: try FlatBuffersStore(directory: sandbox.store)
        ).execute()
        #expect(second.status == .completed)
        let done = try await sandbox.run(["status", "embedded", "--quiet"])
        #expect(done.stdout == "embedded: completed\n", "\(done)")
    }

    @Test("a program's state with no stored shape is one clear line, exit 3, for graph and reset")
    func noShape() async throws {
        let sandbox = try Sandbox()
        let key = try WorkflowKey(id: "shapeless")
        let store = try FlatBuffersStore(directory: sandbox.store)
        let writer = try await store.acquireWriter(key)
        try await writer.save(
            WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: ["a", "b"]), durability: .fsync)
        await writer.release()
        for arguments in [["graph", "shapeless"], ["reset", "shapeless", "--failed"]] {
            let outcome = try await sandbox.run(arguments)
            #expect(outcome.status == 3, "\(arguments): \(outcome)")
            #expect(
                outcome.stderr
                    == "flowctl: error: workflow default/shapeless has no stored definition or DAG shape (a program started it with a version that did not keep the DAG's shape with the state)\n",
                "\(outcome)")
        }
        let status = try await sandbox.run(["status", "shapeless"])
        #expect(status.status == 0, "\(status)")
    }
}
