import FlowOrchestrator
import Foundation

/// Queued workflows through the runtime: three-node no-op chains started with
/// ``WorkflowRuntime/start(_:version:id:tenant:input:definition:queue:priority:notBefore:)``
/// and run to completion by one runtime in this process, in workflows per second (issue 14's
/// row; the goal on the 2-core reference machine is 2,000 wf/s).
public enum RuntimeBench {
    /// What one measurement gives.
    public struct Result: Sendable {
        /// The workflows started and completed.
        public var workflows: Int
        /// From the first start until every workflow is completed.
        public var seconds: Double
        /// Of which starting them (queueing, durable) took this long.
        public var startSeconds: Double
        /// Workflows per second over the whole measurement.
        public var workflowsPerSecond: Double { Double(workflows) / max(seconds, 1e-9) }
    }

    /// Starts `workflows` three-node no-op workflows in a new store under `directory`, runs them
    /// with one runtime (`concurrency` workflows at once, `durability` and `node` persistence),
    /// and waits until each one is completed; throws when one ends otherwise.
    public static func run(
        directory: String, workflows: Int = 1_000, concurrency: Int = 64, durability: Durability = .fsync
    ) async throws -> Result {
        let store = try FlatBuffersStore(directory: directory)
        var execution = ExecutionOptions()
        execution.durability = durability
        let runtime = WorkflowRuntime(
            store: store,
            options: RuntimeOptions(
                maxConcurrentWorkflows: concurrency, pollInterval: .milliseconds(5), execution: execution))
        try await runtime.register(WorkflowType(name: "noop3") { _ in
            var dag = DAG()
            try dag.addNode("a") { _ in .empty }
            try dag.addNode("b", dependsOn: ["a"]) { _ in .empty }
            try dag.addNode("c", dependsOn: ["b"]) { _ in .empty }
            return dag
        })
        let clock = ContinuousClock()
        let began = clock.now
        var handles: [WorkflowHandle] = []
        handles.reserveCapacity(workflows)
        for index in 0..<workflows {
            handles.append(try await runtime.start("noop3", id: "wf-\(index)"))
        }
        let started = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runtime.run() }
            for handle in handles {
                let state = try await handle.result(pollInterval: .milliseconds(2))
                guard state.status == .completed else {
                    throw FlowError(.invalidArgument, "benchmark workflow \(handle.key) ended \(state.status)")
                }
            }
            await runtime.shutdown()
            try await group.waitForAll()
        }
        let ended = clock.now
        return Result(
            workflows: workflows, seconds: (ended - began).secondsValue, startSeconds: (started - began).secondsValue)
    }
}

extension Duration {
    fileprivate var secondsValue: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
