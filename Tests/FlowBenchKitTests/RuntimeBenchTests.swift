import FlowBenchKit
import FlowOrchestrator
import Foundation
import Testing

/// The runtime benchmark row measures what it says: every started workflow completed.
@Suite("Runtime benchmark")
struct RuntimeBenchTests {
    @Test("the runtime row starts and completes every workflow, three nodes each")
    func everyWorkflowCompletes() async throws {
        var template = Array("/tmp/flow-runtime-bench-XXXXXX".utf8CString)
        let directory = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await RuntimeBench.run(directory: directory, workflows: 60, concurrency: 8, durability: .buffered)
        #expect(result.workflows == 60)
        #expect(result.seconds >= result.startSeconds)
        let store = try FlatBuffersStore(directory: directory)
        let summaries = try await store.listAll()
        #expect(summaries.count == 60)
        #expect(summaries.allSatisfy { $0.status == .completed && $0.nodeCounts[.completed] == 3 })
        print("runtime row (debug build, buffered): \(Int(result.workflowsPerSecond)) wf/s")
    }
}
