import ArgumentParser
import FlowOrchestrator

/// `flowctl show ID`: the workflow's state as JSON.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a stored workflow's state as JSON.",
        discussion: """
            Shape: {"id","tenant","status","created_at","updated_at","nodes":[{"name","status",\
            "attempts","started_at","ended_at","error","output_bytes"}]}; times are ISO 8601 in \
            UTC, absent ones null.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print the JSON on one line.")
    var compact = false

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    func run() async throws {
        let store = try global.openStore()
        let state = try await store.load(try global.key(id))
        Terminal.out(StatusReport.json(state).render(indent: !compact) + "\n")
    }
}
