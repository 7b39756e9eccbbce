import ArgumentParser
import FlowBenchKit
import FlowOrchestrator

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the executor.")

    @Option(help: "Nodes in the wide DAG.") var nodes = 100_000

    func run() async throws {
        for scheduling in [Scheduling.levels, .dependencies] {
            let options = ExecutionOptions(scheduling: scheduling, persistence: .end)
            let wide = try await ExecutorBench.run(Workloads.wide(nodes), options: options)
            let layered = try await ExecutorBench.run(Workloads.layered(levels: 100, width: nodes / 100), options: options)
            print("\(scheduling) wide \(wide.nodes): \(Int(wide.nodesPerSecond)) nodes/s; layered: \(Int(layered.nodesPerSecond)) nodes/s")
        }
    }
}
