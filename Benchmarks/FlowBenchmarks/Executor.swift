import Benchmark
import FlowBenchKit
import FlowOrchestrator

/// Executor overhead with no persistence: each iteration runs a whole 100k-node workflow, so
/// nodes per second = 100,000 / wall clock.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(10)
    Benchmark.defaultConfiguration.maxIterations = 20
    let configuration = Benchmark.Configuration(metrics: [.wallClock, .peakMemoryResident])

    for (label, scheduling) in [("levels", Scheduling.levels), ("dependencies", Scheduling.dependencies)] {
        let options = ExecutionOptions(scheduling: scheduling, persistence: .end)
        let wide = Workloads.wide(100_000)
        Benchmark("Executor wide 100k no-op (\(label))", configuration: configuration) { _ in
            _ = try await ExecutorBench.run(wide, options: options)
        }
        let layered = Workloads.layered(levels: 100, width: 1_000)
        Benchmark("Executor layered 100x1000 no-op (\(label))", configuration: configuration) { _ in
            _ = try await ExecutorBench.run(layered, options: options)
        }
    }
}
