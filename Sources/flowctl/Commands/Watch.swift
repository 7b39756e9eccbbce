import ArgumentParser
import FlowOrchestrator

/// `flowctl watch ID`: follows a workflow's events live, from another terminal, until it ends.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a workflow's events as they happen, until it finishes.",
        discussion: """
            Prints the events recorded so far, then each new one as the process running the \
            workflow records it (the formats of `history`). Ends when the workflow finishes: \
            exit 0 when it completed, 1 when it failed or was cancelled. A workflow that does not \
            exist yet is waited for (--wait), then exit 3. Ctrl-C ends the watch with 130 and \
            leaves the workflow alone.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("Print events from this sequence number on.", valueName: "seq"))
    var from: UInt64 = 1

    @Option(name: .long, help: "text, json or cloudevents.")
    var format: EventFormat = .text

    @Option(name: .long, help: ArgumentHelp("How long to wait for a workflow that does not exist yet.", valueName: "duration"))
    var wait = "30s"

    func validate() throws {
        if DurationText.parse(wait) == nil {
            throw ValidationError("--wait \(TextFormat.quoted(wait)): expected \(DurationText.expected)")
        }
    }

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let patience = DurationText.parse(wait)!
        let interrupts = Interrupts()
        defer { interrupts.stop() }
        let status = try await withThrowingTaskGroup(of: ExitStatus?.self) { group in
            group.addTask { try await follow(store: store, key: key, patience: patience) }
            group.addTask {
                for await _ in interrupts.signals { return .interrupted }
                return nil  // the watch ended first and cancelled this task
            }
            var status = ExitStatus.interrupted
            while let result = try await group.next() {
                guard let result else { continue }
                status = result
                group.cancelAll()
                break
            }
            return status
        }
        if status != .success { throw status.exitCode }
    }

    /// Waits for the workflow, prints its events until it finishes and returns how it ended.
    private func follow(store: FlatBuffersStore, key: WorkflowKey, patience: Duration) async throws -> ExitStatus {
        let deadline = ContinuousClock.now + patience
        while try await store.loadIfPresent(key) == nil {
            guard ContinuousClock.now < deadline else {
                throw CLIError(.storeOrData, "workflow \(key) not found in \(store.directory) (waited \(wait))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        do {
            return try await printEvents(store: store, key: key)
        } catch let error as FlowError where error.code == .corruptData {
            // A workflow run with --persist end or level saves whole states: its events are not
            // in its journal, which looks like a history compacted away.
            let recorded = try await store.history(key).last?.sequence ?? 0
            let state = try await store.load(key)
            if recorded < state.lastSequence { throw CLIError(.storeOrData, History.notRecorded(key, recorded, state)) }
            throw error
        }
    }

    private func printEvents(store: FlatBuffersStore, key: WorkflowKey) async throws -> ExitStatus {
        var lines = EventLines(format: format, key: key)
        // From the first event, so that the text form knows the attempt of each completion.
        for try await event in store.events(key, from: 1, follow: true, untilFinished: false) {
            if event.sequence < from {
                lines.skip(event)
            } else {
                Terminal.out(lines.line(event) + "\n")
            }
            // A finished workflow may have been reset and resumed since: the watch ends at the
            // last finish only.
            if case .workflowFinished(let status, _) = event.change, try await store.load(key).lastSequence <= event.sequence {
                return status == .completed ? .success : .workflowFailed
            }
        }
        try Task.checkCancellation()
        throw CLIError(.storeOrData, "the events of workflow \(key) ended before it finished")
    }
}
