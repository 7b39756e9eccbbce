import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// Retry budgets and the recovery limit across real crashes: flow-crashtest runs a node that
/// kills its own process with SIGKILL, and is started again, as a supervisor would.
@Suite("Retry budgets and the recovery limit across crashes")
struct RecoveryTests {
    private func markCount(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test("a node that kills its process runs at most maxAttempts times, then fails naming the interrupted attempts")
    func poisonNodeStops() async throws {
        let binary = builtExecutable("flow-crashtest")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "flow-crashtest not built at \(binary)")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = "\(directory.path)/store", marks = "\(directory.path)/marks"
        var statuses: [Int32?] = []
        for _ in 0..<5 {
            let child = try Child(binary, [store, "poison", marks, "1"], environment: ["FLOW_CRASHTEST_SELFKILL": "2"])
            statuses.append(await child.wait())
        }
        // Killed twice (no exit status), then failed (exit 1) on every later start.
        #expect(statuses == [nil, nil, 1, 1, 1], "\(statuses)")
        #expect(markCount(marks) == 2, "the poison node ran \(markCount(marks)) times")
        let state = try await FlatBuffersStore(directory: store).load(WorkflowKey(id: "poison"))
        #expect(state.status == .failed)
        let node = try #require(state[node: "poison"])
        #expect(node.status == .failed)
        #expect(node.crashedAttempts == 2)
        let error = node.lastError ?? ""
        #expect(error.contains("attempt 2 of 2 was interrupted by a crash"), "\(error)")
        #expect(error.contains("2 attempts interrupted"), "\(error)")
    }

    @Test("a workflow recovered more than the recovery limit without a node completing fails with the reason")
    func recoveryLimit() async throws {
        let binary = builtExecutable("flow-crashtest")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "flow-crashtest not built at \(binary)")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = "\(directory.path)/store", marks = "\(directory.path)/marks"
        // A budget far above the limit: the limit is what stops it.
        let environment = ["FLOW_CRASHTEST_SELFKILL": "1000", "FLOW_CRASHTEST_RECOVERY_LIMIT": "3"]
        var statuses: [Int32?] = []
        for _ in 0..<7 {
            statuses.append(await (try Child(binary, [store, "looping", marks, "1"], environment: environment)).wait())
        }
        // The first run and three recoveries crash; the fourth recovery fails the workflow.
        #expect(statuses == [nil, nil, nil, nil, 1, 1, 1], "\(statuses)")
        #expect(markCount(marks) == 4)
        let state = try await FlatBuffersStore(directory: store).load(WorkflowKey(id: "looping"))
        #expect(state.status == .failed)
        #expect(state.reason?.hasPrefix("recovery limit") == true, "\(state.reason ?? "no reason")")
        #expect(state[node: "poison"]?.status == .failed)
        let summary = try #require(try await FlatBuffersStore(directory: store).listAll().first)
        #expect(summary.reason == state.reason)
    }
}
