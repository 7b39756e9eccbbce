import ArgumentParser
import FlowOrchestrator

/// `flowctl output ID NODE`: prints what a completed node wrote to stdout.
struct Output: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a completed node's output (its stdout) exactly as stored.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Argument(help: ArgumentHelp("The node.", valueName: "node"))
    var node: String

    func run() async throws {
        let store = try global.openStore()
        let state = try await store.load(try global.key(id))
        guard let node = state[node: node] else {
            throw CLIError(.usage, "workflow \(state.tenant)/\(state.id) has no node \(TextFormat.quoted(self.node))")
        }
        guard node.status == .completed, let output = node.output else {
            throw CLIError(.storeOrData, "node \(TextFormat.quoted(node.name)) has no output: it is \(node.status)")
        }
        Terminal.out(bytes: output)
    }
}
