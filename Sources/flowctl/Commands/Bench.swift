import ArgumentParser
import FlowBenchKit
import FlowOrchestrator
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the executor and the snapshot stores side by side.")

    @Option(help: "Nodes in the measured workflows.") var nodes = 100_000
    @Flag(help: "Measure only the FlatBuffers snapshot store (for profiling).") var snapshotOnly = false
    @Option(help: "zstd level of the FlatBuffers store.") var level: Int32 = 1
    @Option(help: "Where to write the stores measured (a temporary directory by default).") var directory: String?

    func run() async throws {
        if snapshotOnly {
            let root = directory ?? NSTemporaryDirectory() + "flowctl-bench-\(getpid())"
            defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
            let flat = try await SnapshotBench.measure(
                "FlatBuffers+zstd", store: FlatBuffersStore(directory: root + "/fb", options: .init(compressionLevel: level)),
                state: SnapshotBench.state(nodes: nodes), iterations: 30)
            print(String(format: "save %.1f ms, load %.1f ms, %d bytes", flat.saveSeconds * 1000, flat.loadSeconds * 1000, flat.bytes))
            return
        }
        let root = directory ?? NSTemporaryDirectory() + "flowctl-bench-\(getpid())"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        // First, while the process is fresh: memory with a large state held.
        let resident = try await DurabilityBench.residentWithState(nodes: nodes, directory: "\(root)/memory")
        print(String(format: "memory: process resident with a %d-node state loaded: %.1f MiB", nodes, Double(resident) / 1_048_576))
        for scheduling in [Scheduling.levels, .dependencies] {
            let options = ExecutionOptions(scheduling: scheduling, persistence: .end)
            let wide = try await ExecutorBench.run(Workloads.wide(nodes), options: options)
            let layered = try await ExecutorBench.run(
                Workloads.layered(levels: 100, width: max(1, nodes / 100)), options: options)
            print(
                "executor \(scheduling): wide \(wide.nodes) \(Int(wide.nodesPerSecond)) nodes/s; layered \(layered.nodes) \(Int(layered.nodesPerSecond)) nodes/s"
            )
        }
        let state = SnapshotBench.state(nodes: nodes)
        let flat = try await SnapshotBench.measure(
            "FlatBuffers+zstd", store: FlatBuffersStore(directory: root + "/fb"), state: state)
        let json = try await SnapshotBench.measure("JSON", store: JSONFileStore(directory: root + "/json"), state: state)
        for result in [flat, json] {
            print(
                String(
                    format: "snapshot %@: save %.1f ms, load %.1f ms, %d bytes", result.store, result.saveSeconds * 1000,
                    result.loadSeconds * 1000, result.bytes))
        }
        print(
            String(
                format: "FlatBuffers+zstd vs JSON: save %.1fx, load %.1fx faster, %.1fx smaller",
                json.saveSeconds / flat.saveSeconds, json.loadSeconds / flat.loadSeconds,
                Double(json.bytes) / Double(flat.bytes)))
        for durability in [Durability.fsync, .buffered] {
            let wide = try await DurabilityBench.run(
                Workloads.wide(nodes), directory: "\(root)/wide-\(durability)", durability: durability)
            let chain = try await DurabilityBench.run(
                Workloads.chain(4_000), directory: "\(root)/chain-\(durability)", durability: durability)
            print(
                String(
                    format: "journal %@: wide %d: %.0f completions/s; chain 4000: %.2f s", durability.rawValue, wide.nodes,
                    wide.nodesPerSecond, chain.duration.seconds))
        }
        for records in [100_000, 1_000_000] {
            let seconds = try await DurabilityBench.recovery(records: records, directory: "\(root)/recovery-\(records)")
            print(String(format: "recovery: open with %d journal records: %.3f s", records, seconds))
        }

    }
}
