import FlowOrchestrator
import Foundation

/// The DAG shapes every benchmark uses, so `flowctl bench` and the package-benchmark suite
/// measure the same thing.
public enum Workloads {
    /// `count` independent no-op nodes: one level.
    public static func wide(_ count: Int) -> DAG {
        var dag = DAG()
        for index in 0..<count {
            try! dag.addNode("n\(index)") { _ in .empty }  // names are valid and unique by construction
        }
        return dag
    }

    /// `levels` levels of `width` no-op nodes; each node needs the node at the same position in
    /// the level before (so a level cannot start early under dependency-driven scheduling only
    /// by luck: every node has exactly one dependency).
    public static func layered(levels: Int, width: Int) -> DAG {
        var dag = DAG()
        for level in 0..<levels {
            for position in 0..<width {
                let dependencies = level == 0 ? [] : ["l\(level - 1)-\(position)"]
                try! dag.addNode("l\(level)-\(position)", dependsOn: dependencies) { _ in .empty }
            }
        }
        return dag
    }

    /// A chain of `length` no-op nodes, each needing the one before.
    public static func chain(_ length: Int) -> DAG {
        layered(levels: length, width: 1)
    }
}

/// One measured run.
public struct RunMeasurement: Sendable {
    /// Nodes in the DAG.
    public var nodes: Int
    /// Wall time of `execute()`.
    public var duration: Duration
    /// Nodes per second.
    public var nodesPerSecond: Double { Double(nodes) / max(duration.seconds, 1e-9) }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Executor measurements.
public enum ExecutorBench {
    /// Runs `dag` once as a new workflow in `store` and times it.
    public static func run(
        _ dag: DAG, store: any WorkflowStore = InMemoryStore(), id: String = "bench",
        options: ExecutionOptions = ExecutionOptions(persistence: .end)
    ) async throws -> RunMeasurement {
        let workflow = Workflow(id: id, dag: dag, store: store, options: options)
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await workflow.execute()
        let duration = clock.now - started
        guard result.status == .completed else {
            throw FlowError(.invalidArgument, "benchmark workflow ended \(result.status)")
        }
        return RunMeasurement(nodes: dag.count, duration: duration)
    }
}
