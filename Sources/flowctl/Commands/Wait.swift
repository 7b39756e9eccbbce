import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl wait ID`: blocks until a workflow ends.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a workflow ends.",
        discussion: """
            Exit codes: 0 completed, 1 failed, 3 unknown workflow, 4 --timeout passed first, \
            5 cancelled by request.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("Give up after this long (exit 4).", valueName: "duration"))
    var timeout: String?

    func validate() throws {
        if let timeout, DurationText.parse(timeout) == nil {
            throw ValidationError("--timeout \(TextFormat.quoted(timeout)) is not a duration: \(DurationText.expected)")
        }
    }

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        let deadline = timeout.flatMap(DurationText.parse).map { ContinuousClock.now + $0 }
        while true {
            guard let state = try await store.loadIfPresent(key) else {
                throw CLIError(.storeOrData, "workflow \(key) not found in \(store.directory)")
            }
            if state.status.isFinished {
                Terminal.out("workflow \(state.id) \(state.status)" + (state.reason.map { ": \(TextFormat.oneLine($0))" } ?? "") + "\n")
                switch state.status {
                case .completed: return
                case .cancelled: throw ExitStatus.cancelled.exitCode
                default: throw ExitStatus.workflowFailed.exitCode
                }
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw CLIError(.timedOut, "workflow \(key) is still \(state.status) after \(timeout ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
