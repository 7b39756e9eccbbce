import Foundation
import Testing

@testable import FlowOrchestrator

/// The summary `list` shows follows a running workflow's node counts within about a second,
/// even while no further append comes (the flush timer writes what appends deferred).
@Suite("Summary freshness")
struct SummaryFreshnessTests {
    /// The listed summary of `key`, as another process would read it (a fresh store object).
    static func listed(_ directory: String, _ key: WorkflowKey) async throws -> WorkflowSummary? {
        try await FlatBuffersStore(directory: directory).listAll().first { $0.id == key.id }
    }

    /// Polls `list` (deadline, no fixed delay) until `condition` holds for the summary.
    static func listShows(
        _ directory: String, _ key: WorkflowKey, _ condition: (WorkflowSummary) -> Bool
    ) async throws -> WorkflowSummary? {
        let deadline = ContinuousClock.now + .seconds(30)
        var last: WorkflowSummary?
        while ContinuousClock.now < deadline {
            last = try await listed(directory, key)
            if let last, condition(last) { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("list never showed it; last: \(String(describing: last))")
        return nil
    }

    @Test("list during a run shows a node completed while the next one still runs")
    func listShowsProgress() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let firstGate = Gate()
        let secondGate = Gate()
        var dag = DAG()
        try dag.addNode("first") { _ in
            await firstGate.wait()
            return .empty
        }
        try dag.addNode("second", dependsOn: ["first"]) { _ in
            await secondGate.wait()
            return .empty
        }
        let key = try WorkflowKey(id: "progress")
        let store = try FlatBuffersStore(directory: directory.path)
        let run = Task { try await Workflow(key: key, dag: dag, store: store).execute() }
        // The first summary (written at the writer's first append) says running, none completed.
        let started = try await Self.listShows(directory.path, key) { $0.status == .running }
        #expect(started?.nodeCounts[.completed] == nil)
        // `first` completes and `second` starts: appends within the second after that summary,
        // which only the flush timer writes while `second` blocks.
        firstGate.open()
        let progressed = try await Self.listShows(directory.path, key) { $0.nodeCounts[.completed] == 1 }
        #expect(progressed?.nodeCounts[.running] == 1, "\(String(describing: progressed))")
        #expect(progressed?.status == .running)
        secondGate.open()
        #expect(try await run.value.status == .completed)
        let finished = try await Self.listed(directory.path, key)
        #expect(finished?.status == .completed && finished?.nodeCounts[.completed] == 2, "\(String(describing: finished))")
    }
}
