import FlowOrchestrator
import Foundation

func nightlyReport(storeDirectory: String) async throws -> WorkflowStatus {
    var dag = DAG()
    try dag.addNode("fetch") { _ in .text("3 new orders") }
    try dag.addNode("count", dependsOn: ["fetch"]) { context in
        let fetched = String(decoding: try context.output(of: "fetch") ?? Data(), as: UTF8.self)
        return .text("\(fetched.split(separator: " ").first ?? "0")")
    }
    try dag.addNode(
        "publish", dependsOn: ["count"],
        retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(200)),
        timeout: .seconds(30)
    ) { context in
        // Nodes run at least once: use the idempotency key to make side effects safe to repeat.
        .text("published \(context.idempotencyKey)")
    }

    let store = try FlatBuffersStore(directory: storeDirectory)
    // The default options: dependency scheduling, every status change journaled and fsynced.
    let workflow = Workflow(id: "nightly-report", dag: dag, store: store)
    // Run it again after a crash and completed nodes are skipped.
    let result = try await workflow.execute()
    return result.status
}
