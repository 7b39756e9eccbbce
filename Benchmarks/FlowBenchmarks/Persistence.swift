import Benchmark
import FlowBenchKit
import FlowOrchestrator
import Foundation

/// Persistence strategies (at the end, a snapshot per level, every change journaled) crossed
/// with durability (fsync, buffered) through the FlatBuffers store, on a wide DAG (100k nodes,
/// one level) and a deep one (a 4,000-level chain). Per-level snapshots on the chain rewrite the
/// whole state at each level, so that pair runs on 1,000 levels (its cost grows with the square
/// of the length; `flowctl bench --only persistence --level-chain 4000` measures the full size).
/// Beside them, the SQLite peer (``SQLiteStore``: a row per node, each change an UPDATE, WAL with
/// `synchronous=FULL` for fsync and `NORMAL` for buffered) under the same executor and group commit.
func persistenceBenchmarks() {
    let completions = BenchmarkMetric.custom("completions_per_s", polarity: .prefersLarger, useScalingFactor: false)
    let root = NSTemporaryDirectory() + "flow-benchmarks-\(getpid())"
    let shapes: [(PersistenceBench.Shape, Int, Fixture<DAG>)] = [
        (.wide, 100_000, Fixture { Workloads.wide(100_000) }),
        (.chain, 4_000, Fixture { Workloads.chain(4_000) }),
        (.chain, 1_000, Fixture { Workloads.chain(1_000) }),
    ]
    for (shape, nodes, dag) in shapes {
        for persistence in PersistenceStrategy.allCases {
            // The long chain with per-level snapshots is measured at 1,000 levels only.
            let levelSnapshots = persistence == .level
            if shape == .chain, levelSnapshots != (nodes == 1_000) { continue }
            for durability in Durability.allCases {
                let slow = shape == .chain && levelSnapshots
                let configuration = Benchmark.Configuration(
                    metrics: [.wallClock, .syscalls, .writeBytesLogical, completions],
                    warmupIterations: slow ? 0 : 1, maxDuration: .seconds(slow ? 30 : 10), maxIterations: slow ? 3 : 10)
                let name = "Persistence/\(persistence.rawValue)/\(durability.rawValue)/\(shape.rawValue) \(nodes)"
                let directory = "\(root)/\(persistence.rawValue)-\(durability.rawValue)-\(shape.rawValue)-\(nodes)"
                Benchmark(
                    name, configuration: configuration,
                    closure: { benchmark in
                        try? FileManager.default.removeItem(atPath: directory)
                        benchmark.startMeasurement()
                        let result = try await PersistenceBench.run(
                            dag.built, shape: shape, persistence: persistence, durability: durability, directory: directory)
                        benchmark.stopMeasurement()
                        benchmark.measurement(completions, Int(result.nodesPerSecond))
                    },
                    setup: { _ = try await dag.get() },
                    teardown: { try? FileManager.default.removeItem(atPath: directory) })
            }
        }
        // The SQLite peer journals every change (the `node` strategy) on the wide DAG and the
        // 4,000-level chain.
        guard shape == .wide || nodes == 4_000 else { continue }
        for durability in Durability.allCases {
            let configuration = Benchmark.Configuration(
                metrics: [.wallClock, .syscalls, .writeBytesLogical, completions],
                warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 10)
            let name = "Persistence/sqlite/\(durability.rawValue)/\(shape.rawValue) \(nodes)"
            let directory = "\(root)/sqlite-\(durability.rawValue)-\(shape.rawValue)-\(nodes)"
            Benchmark(
                name, configuration: configuration,
                closure: { benchmark in
                    try? FileManager.default.removeItem(atPath: directory)
                    benchmark.startMeasurement()
                    let result = try await PersistenceBench.run(
                        dag.built, shape: shape, persistence: .node, durability: durability, directory: directory,
                        sqlite: true)
                    benchmark.stopMeasurement()
                    benchmark.measurement(completions, Int(result.nodesPerSecond))
                },
                setup: { _ = try await dag.get() },
                teardown: { try? FileManager.default.removeItem(atPath: directory) })
        }
    }
}
