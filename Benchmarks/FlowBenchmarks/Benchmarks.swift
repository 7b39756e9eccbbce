import Benchmark

/// Every suite; run one with `--filter`, e.g.
/// `FLOW_BENCHMARKS=1 swift package benchmark --target FlowBenchmarks --filter 'Serialization.*100k'`.
/// Names read `Suite/what/strategy/size`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(5)
    Benchmark.defaultConfiguration.maxIterations = 20
    Benchmark.defaultConfiguration.warmupIterations = 1
    executorBenchmarks()
    serializationBenchmarks()
    recordBenchmarks()
    persistenceBenchmarks()
    recoveryBenchmarks()
}
