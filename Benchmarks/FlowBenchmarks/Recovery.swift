import Benchmark
import FlowBenchKit
import Foundation

/// Time to open a workflow against its journal's length: the snapshot is read, every frame's
/// CRC32C checked, every record verified and replayed. The journal is written once, in setup.
func recoveryBenchmarks() {
    let recordsPerSecond = BenchmarkMetric.custom("records_per_s", polarity: .prefersLarger, useScalingFactor: false)
    let root = NSTemporaryDirectory() + "flow-benchmarks-recovery-\(getpid())"
    for (label, records) in [("10k", 10_000), ("100k", 100_000), ("1M", 1_000_000)] {
        let directory = "\(root)/\(records)"
        Benchmark(
            "Recovery/open/\(label) records",
            configuration: .init(metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal, recordsPerSecond], maxDuration: .seconds(10)),
            closure: { benchmark in
                let seconds = try await DurabilityBench.openJournal(records: records, directory: directory)
                benchmark.measurement(recordsPerSecond, Int(Double(records) / seconds))
            },
            setup: { _ = try await DurabilityBench.writeJournal(records: records, directory: directory) },
            teardown: { try? FileManager.default.removeItem(atPath: root) })
    }
}
