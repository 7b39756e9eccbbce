import FlowOrchestrator
import Foundation

struct Night: Codable { var day: String }
struct Order: Codable { var id: String; var amount: Int }
struct Report: Codable { var day: String; var orders: Int; var total: Int }

func nightlyReport(storeDirectory: String) async throws -> WorkflowStatus {
    var dag = DAG()
    try dag.addNode("fetch") { context in
        let night = try context.input(as: Night.self)
        return try .json([Order(id: "\(night.day)-1", amount: 30), Order(id: "\(night.day)-2", amount: 12)])
    }
    try dag.addNode("summarize", dependsOn: ["fetch"]) { context in
        let orders = try context.output(of: "fetch", as: [Order].self)
        let day = try context.input(as: Night.self).day
        return try .json(Report(day: day, orders: orders.count, total: orders.reduce(0) { $0 + $1.amount }))
    }
    try dag.addNode(
        "publish", dependsOn: ["summarize"],
        retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(200)),
        timeout: .seconds(30)
    ) { context in
        let report = try context.output(of: "summarize", as: Report.self)
        // Nodes run at least once: use the idempotency key to make side effects safe to repeat.
        return .text("published \(report.day): \(report.orders) orders, \(report.total) (\(context.idempotencyKey))")
    }

    let store = try FlatBuffersStore(directory: storeDirectory)
    // The default options: dependency scheduling, every status change journaled and fsynced.
    let workflow = Workflow(key: try WorkflowKey(id: "nightly-report"), dag: dag, store: store)
    // Run it again after a crash and completed nodes are skipped; the stored input is used.
    let result = try await workflow.execute(input: JSONEncoder().encode(Night(day: "2026-12-03")))
    return result.status
}
