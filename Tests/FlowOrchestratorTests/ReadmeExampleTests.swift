import Foundation
import Testing

// The embedding example of README.md, compiled and run here so that it cannot rot. The test
// below fails if the README's copy and this one differ.
// README-EXAMPLE-BEGIN
import FlowOrchestrator

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
    let workflow = Workflow(
        id: "nightly-report", dag: dag, store: store,
        options: ExecutionOptions(persistence: .node, durability: .fsync))
    // Run it again after a crash and completed nodes are skipped.
    let result = try await workflow.execute()
    return result.status
}
// README-EXAMPLE-END

@Suite("README")
struct ReadmeExampleTests {
    @Test("the embedding example runs and completes")
    func exampleRuns() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        #expect(try await nightlyReport(storeDirectory: directory.path) == .completed)
        let state = try await FlatBuffersStore(directory: directory.path).load(WorkflowKey(id: "nightly-report"))
        #expect(state[node: "count"]?.output == Data("3".utf8))
    }

    @Test("README.md shows exactly the example compiled here")
    func readmeMatches() throws {
        func example(in text: String, from begin: String, to end: String) -> String? {
            guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex)
            else { return nil }
            return text[start.upperBound..<stop.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let readme = try String(contentsOfFile: "\(packageRoot)/README.md", encoding: .utf8)
        let compiled = try #require(example(in: source, from: "// README-EXAMPLE-BEGIN", to: "// README-EXAMPLE-END"))
        let shown = try #require(example(in: readme, from: "<!-- example: Tests/FlowOrchestratorTests/ReadmeExampleTests.swift -->\n```swift", to: "```"))
        #expect(shown == compiled)
    }
}
