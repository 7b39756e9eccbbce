import ArgumentParser
import FlowOrchestrator

/// `flowctl history ID`: the workflow's recorded events.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a stored workflow's events: every status change, in order.",
        discussion: """
            Formats: text (one line per event), json (one object per line: sequence, time, kind, \
            node, node_index, attempt, workflow_status, error, key, payload_base64, \
            payload_bytes, delay_us), cloudevents (CloudEvents 1.0 JSON lines). Events are \
            recorded when the workflow runs with --persist node, the default.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("Start at this sequence number.", valueName: "seq"))
    var from: UInt64 = 1

    @Option(name: .long, help: ArgumentHelp("Stop after this sequence number: the history as it was then.", valueName: "seq"))
    var at: UInt64?

    @Option(name: .long, help: "text, json or cloudevents.")
    var format: EventFormat = .text

    @Option(name: .long, help: "The most events to print.")
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let at, at < from { throw ValidationError("--at \(at) comes before --from \(from)") }
    }

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let state = try await store.load(key)
        let last = at ?? state.lastSequence
        if last > state.lastSequence {
            throw CLIError(.usage, "workflow \(key) has \(state.lastSequence) events; there is no event \(last)")
        }
        // From the first event, so that the text form knows the attempt of each completion.
        let events: ArraySlice<WorkflowEvent>
        do {
            events = try await store.history(key, from: 1).prefix { $0.sequence <= last }
        } catch let error as FlowError where error.code == .historyUnavailable && last > 0 {
            // Not even the first event was recorded (flowctl keeps the history of compactions).
            throw CLIError(.storeOrData, Self.notRecorded(key, 0, state))
        }
        if events.last?.sequence != last, last > 0 {
            throw CLIError(.storeOrData, Self.notRecorded(key, events.last?.sequence ?? 0, state))
        }
        var lines = EventLines(format: format, key: key)
        var printed = 0
        var out = ""
        for event in events {
            guard event.sequence >= from else {
                lines.skip(event)
                continue
            }
            guard printed < limit ?? .max else { break }
            out += lines.line(event) + "\n"
            printed += 1
            if out.utf8.count >= 1 << 16 {
                Terminal.out(out)
                out = ""
            }
        }
        Terminal.out(out)
    }

    /// The error for a workflow whose events stop at `recorded`, short of its state.
    static func notRecorded(_ key: WorkflowKey, _ recorded: UInt64, _ state: WorkflowState) -> String {
        "workflow \(key) has no recorded events past \(recorded) of \(state.lastSequence) (it ran with --persist end or level, which keep the state, not the events)"
    }
}
