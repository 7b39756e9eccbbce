import ArgumentParser
import FlowOrchestrator

/// `flowctl show ID`: the workflow's state as JSON.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a stored workflow's state as JSON.",
        discussion: """
            Shape: {"id","tenant","status","created_at","updated_at","nodes":[{"name","status",\
            "attempts","started_at","ended_at","error","output_bytes"}]}; times are ISO 8601 in \
            UTC, absent ones null. With --at SEQ, the state right after event SEQ (0: before \
            the first), rebuilt from the stored snapshots and events.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print the JSON on one line.")
    var compact = false

    @Option(name: .long, help: ArgumentHelp("Show the state as it was right after this event (see `history`).", valueName: "seq"))
    var at: UInt64?

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let state: WorkflowState
        if let at {
            do {
                state = try await store.state(key, at: at)
            } catch let error as FlowError where error.code == .historyUnavailable {
                // Say why the events are missing, as `history` does: a run with `--persist end`
                // or `level` records none, which is not compaction's doing.
                let current = try await store.load(key)
                let recorded = (try? await store.history(key, from: 1))?.last?.sequence ?? 0
                if recorded < at { throw CLIError(.storeOrData, History.notRecorded(key, recorded, current)) }
                throw error
            }
        } else {
            state = try await store.load(key)
        }
        Terminal.out(StatusReport.json(state).render(indent: !compact) + "\n")
    }
}
