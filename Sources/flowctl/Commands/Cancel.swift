import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl cancel ID`: records a durable cancel request.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a workflow, queued or running, from any process.",
        discussion: """
            The request is durable when this exits 0. A queued workflow is recorded cancelled at \
            once and never runs; the worker running one sees the request within 100 ms, stops \
            its nodes and records it cancelled (`flowctl wait` then exits 5). A finished \
            workflow is left as it is. Exit 3 for an unknown ID.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Option(name: .long, help: "The reason recorded with the cancellation.")
    var reason = "cancelled by request"

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let runtime = WorkflowRuntime(store: store)
        do {
            try await runtime.cancel(key, reason: reason)
        } catch let error as FlowError where error.code == .notFound {
            throw CLIError(.storeOrData, "workflow \(key) not found in \(store.directory)")
        }
    }
}
