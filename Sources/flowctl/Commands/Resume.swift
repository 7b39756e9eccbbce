import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl resume ID`: continues a stored workflow from the definition stored with it.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a stored workflow; no file is needed.",
        discussion: """
            Completed nodes are not run again; nodes that were running when flowctl died run \
            again. Failed nodes stay failed until `flowctl reset ID --failed`. A workflow that a \
            program started (no definition file stored) is resumed by its program; resume exits 3 \
            saying so.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runOptions: RunOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let state = try await store.load(key)
        let definition = try StoredDefinition.load(state)
        if state.status == .completed {
            Terminal.out(StatusReport.finishedRunLine(state) + "\n")
            return
        }
        let session = RunSession(
            global: global, store: store, key: key, definition: definition, settings: runOptions.settings)
        let status = try await session.run(existing: state)
        if status != .success { throw status.exitCode }
    }
}

/// The definition a workflow was started from, as stored with its state.
enum StoredDefinition {
    static func load(_ state: WorkflowState) throws -> WorkflowDefinition {
        guard let source = state.definition, !source.isEmpty else {
            // Exit 3, as for every other workflow flowctl cannot run from the store.
            throw CLIError(
                .storeOrData,
                "workflow \(state.tenant)/\(state.id) was started by a program, not from a definition file: its program resumes it (by running it again with Workflow.execute()); flowctl status, graph, history and reset work on it")
        }
        do {
            return try DefinitionParser(origin: "stored definition of \(state.id)").parse(source, defaultID: state.id)
        } catch {
            throw CLIError(.storeOrData, error.description)
        }
    }
}
