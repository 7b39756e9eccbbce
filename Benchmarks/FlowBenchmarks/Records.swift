import Benchmark
import FlowBenchKit

/// Journal-sized records (start and completion events, about 116 bytes framed) compressed one
/// frame each, with and without a zstd dictionary trained on 10,000 records of another run.
/// Each iteration compresses (or decompresses) 20,000 records; `bytes` is their total.
func recordBenchmarks() {
    let bytesMetric = BenchmarkMetric.custom("bytes", polarity: .prefersSmaller, useScalingFactor: false)
    let configuration = Benchmark.Configuration(metrics: [.wallClock, .mallocCountTotal, bytesMetric], maxDuration: .seconds(3))
    let training = Fixture { try RecordCompressionBench.records(count: 10_000, firstNode: 1_000_000) }
    let test = Fixture { try RecordCompressionBench.records(count: 20_000, firstNode: 0) }
    let dictionary = Fixture { try ZstdKit.trainDictionary(samples: try await training.get(), capacity: 16 << 10) }

    Benchmark(
        "Records/train dictionary/16KiB from 10k records", configuration: configuration,
        closure: { benchmark in
            let trained = try ZstdKit.trainDictionary(samples: training.built, capacity: 16 << 10)
            benchmark.measurement(bytesMetric, trained.count)
        },
        setup: { _ = try await training.get() })

    for level in SerializationBench.levels {
        for useDictionary in [false, true] {
            let name = "zstd-\(level)" + (useDictionary ? "+dict" : "")
            Benchmark(
                "Records/compress/\(name)/20k records", configuration: configuration,
                closure: { (benchmark: Benchmark) async throws -> Void in
                    let total = try compressAll(test.built, level: level, dictionary: useDictionary ? dictionary.built : nil)
                    benchmark.measurement(bytesMetric, total)
                },
                setup: {
                    _ = try await test.get()
                    _ = try await dictionary.get()
                })
        }
    }
}

/// Compresses each record into its own frame; returns the total size.
private func compressAll(_ records: [[UInt8]], level: Int32, dictionary: [UInt8]?) throws -> Int {
    var total = 0
    if let dictionary {
        let compressor = try ZstdKit.Dictionary(dictionary, level: level)
        for record in records { total += try record.withUnsafeBytes { try compressor.compress($0) }.count }
    } else {
        let compressor = try ZstdKit.Plain(level: level)
        for record in records { total += try record.withUnsafeBytes { try compressor.compress($0) }.count }
    }
    return total
}
