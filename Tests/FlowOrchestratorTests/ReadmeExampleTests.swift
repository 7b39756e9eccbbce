import FlowOrchestrator
import Foundation
import Testing

// README.md's embedding example is ReadmeExample.swift, a file holding the block and nothing
// else, so the block compiles with exactly the imports it shows (scripts/check-dependency.sh
// also builds it as a separate package that depends on FlowOrchestrator by version). The test
// below fails when the README's copy and that file differ.
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

    @Test("README.md's block under Embedding is ReadmeExample.swift, whole")
    func readmeMatches() throws {
        let readme = try String(contentsOfFile: "\(packageRoot)/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "\n## Embedding\n"))
        let open = try #require(readme.range(of: "\n```swift\n", range: section.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "\n```\n", range: open.upperBound..<readme.endIndex))
        let shown = String(readme[open.upperBound..<close.lowerBound])
        let compiled = try String(
            contentsOfFile: "\(packageRoot)/Tests/FlowOrchestratorTests/ReadmeExample.swift", encoding: .utf8)
        #expect(shown + "\n" == compiled)
    }
}
