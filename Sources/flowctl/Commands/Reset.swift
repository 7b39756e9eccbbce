import ArgumentParser
import FlowOrchestrator

/// `flowctl reset ID`: sets failed nodes, or one node and perhaps its descendants, back to pending.
struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set nodes of a stored workflow back to pending so that `resume` runs them again.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Flag(name: .long, help: "Reset every failed node.")
    var failed = false

    @Option(name: .long, help: ArgumentHelp("Reset this node.", valueName: "name"))
    var node: String?

    @Flag(name: .long, help: "With --node: also reset every node that depends on it.")
    var descendants = false

    func validate() throws {
        if failed == (node != nil) { throw ValidationError("give either --failed or --node NAME") }
        if descendants, node == nil { throw ValidationError("--descendants needs --node NAME") }
    }

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let before = try await store.load(key)
        let dag = try StoredShape.dag(before)
        if let node, dag[node] == nil {
            throw CLIError(.usage, "workflow \(key) has no node \(TextFormat.quoted(node))")
        }
        let workflow = Workflow(
            key: key, dag: dag, store: store,
            options: global.executionOptions)
        let after: WorkflowState
        if let node {
            after = try await workflow.reset(node: node, includingDescendants: descendants)
        } else {
            after = try await workflow.resetFailedNodes()
        }
        let reset = zip(before.nodes, after.nodes).filter { $0.status != .pending && $1.status == .pending }.map(\.1.name)
        if reset.isEmpty {
            Terminal.out("nothing to reset in workflow \(key.id)\n")
        } else {
            Terminal.out("reset \(reset.count) node\(reset.count == 1 ? "" : "s") of workflow \(key.id): \(reset.joined(separator: ", ")); run `flowctl resume \(key.id)`\n")
        }
    }
}
