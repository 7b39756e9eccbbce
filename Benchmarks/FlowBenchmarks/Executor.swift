import Benchmark
import FlowBenchKit
import FlowOrchestrator

/// Executor overhead with no persistence: each iteration runs a whole 100k-node workflow of no-op
/// nodes; `nodes_per_s` is 100,000 / the iteration's wall clock.
func executorBenchmarks() {
    let nodesPerSecond = BenchmarkMetric.custom("nodes_per_s", polarity: .prefersLarger, useScalingFactor: false)
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal, nodesPerSecond], maxDuration: .seconds(10))
    let shapes: [(String, Fixture<DAG>)] = [
        ("wide 100k", Fixture { Workloads.wide(100_000) }),
        ("layered 100x1000", Fixture { Workloads.layered(levels: 100, width: 1_000) }),
    ]
    for (label, scheduling) in [("levels", Scheduling.levels), ("dependencies", Scheduling.dependencies)] {
        let options = ExecutionOptions(scheduling: scheduling, persistence: .end)
        for (shape, dag) in shapes {
            Benchmark(
                "Executor/no-op/\(label)/\(shape)", configuration: configuration,
                closure: { benchmark in
                    let run = try await ExecutorBench.run(dag.built, options: options)
                    benchmark.measurement(nodesPerSecond, Int(run.nodesPerSecond))
                },
                setup: { _ = try await dag.get() })
        }
    }
}
