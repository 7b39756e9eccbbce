import ArgumentParser
import FlowOrchestrator

/// `flowctl status ID`: the workflow's status and a table of its nodes.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a stored workflow's status and its nodes.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    func run() async throws {
        let store = try global.openStore()
        let state = try await store.load(try global.key(id))
        Terminal.out((global.quiet ? "\(state.id): \(state.status)" : StatusReport.text(state)) + "\n")
    }
}
