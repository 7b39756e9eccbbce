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
        for scheduling in [Scheduling.levels, .dependencies] {
            let options = ExecutionOptions(scheduling: scheduling, persistence: .end)
            let wide = try await ExecutorBench.run(Workloads.wide(nodes), options: options)
            let layered = try await ExecutorBench.run(
                Workloads.layered(levels: 100, width: max(1, nodes / 100)), options: options)
            print(
                "executor \(scheduling): wide \(wide.nodes) \(Int(wide.nodesPerSecond)) nodes/s; layered \(layered.nodes) \(Int(layered.nodesPerSecond)) nodes/s"
            )
        }
        let root = directory ?? NSTemporaryDirectory() + "flowctl-bench-\(getpid())"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
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
    }
}
