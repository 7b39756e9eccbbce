import Benchmark
import FlowBenchKit
import FlowOrchestrator

/// Serialization strategies on the same states: Foundation JSON, binary property list, protobuf
/// (swift-protobuf, `Protos/workflow.proto`) and FlatBuffers, each raw and in a zstd frame at levels 1, 3 and 9. `encode` produces the stored
/// bytes (encode, then compress), `decode` gets the state back (decompress, then verify and
/// decode); `bytes` is the stored size. 1 MiB outputs are measured on 100 nodes only: 10k such
/// nodes would be a 10 GiB state.
func serializationBenchmarks() {
    let bytesMetric = BenchmarkMetric.custom("bytes", polarity: .prefersSmaller, useScalingFactor: false)
    let states: [(label: String, state: Fixture<WorkflowState>, maxDuration: Duration)] = [
        ("100 nodes", Fixture { Workloads.finishedState(nodes: 100) }, .seconds(2)),
        ("10k nodes", Fixture { Workloads.finishedState(nodes: 10_000) }, .seconds(3)),
        ("100k nodes", Fixture { Workloads.finishedState(nodes: 100_000) }, .seconds(8)),
        ("100 nodes x 1MiB", Fixture { Workloads.finishedState(nodes: 100, outputBytes: 1 << 20) }, .seconds(8)),
    ]
    let levels: [Int32?] = [nil] + SerializationBench.levels.map { Optional($0) }
    for codec in SerializationBench.codecs {
        for level in levels {
            let strategy = level.map { "\(codec.name)+zstd-\($0)" } ?? codec.name
            for (label, state, maxDuration) in states {
                let configuration = Benchmark.Configuration(
                    metrics: [.wallClock, .mallocCountTotal, .mallocBytesCount, .peakMemoryResidentDelta, bytesMetric],
                    maxDuration: maxDuration, maxIterations: 50)
                // The stored bytes, made once for the decode benchmark, in an aligned buffer as a
                // reader holds a file it has read.
                let stored = Fixture<AlignedBytes> {
                    var bytes = try codec.encode(try await state.get())
                    if let level { bytes = try bytes.withUnsafeBytes { try ZstdKit.compress($0, level: level) } }
                    return bytes.withUnsafeBytes { AlignedBytes(copying: $0) }
                }
                Benchmark(
                    "Serialization/encode/\(strategy)/\(label)", configuration: configuration,
                    closure: { benchmark in
                        var raw = try codec.encode(state.built)
                        if let level { raw = try raw.withUnsafeBytes { try ZstdKit.compress($0, level: level) } }
                        benchmark.measurement(bytesMetric, raw.count)
                        blackHole(raw)
                    },
                    setup: { _ = try await state.get() })
                Benchmark(
                    "Serialization/decode/\(strategy)/\(label)", configuration: configuration,
                    closure: { benchmark in
                        let stored = stored.built
                        benchmark.measurement(bytesMetric, stored.count)
                        if level != nil {
                            let raw = try ZstdKit.decompress(stored.bytes)
                            blackHole(try codec.decode(raw.bytes))
                        } else {
                            blackHole(try codec.decode(stored.bytes))
                        }
                    },
                    setup: { _ = try await stored.get() })
            }
        }
    }
}
