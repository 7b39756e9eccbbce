import FlowOrchestrator
import Foundation

/// One `run` or `resume`: the definition's DAG executed against the store with progress shown,
/// interrupted cleanly by SIGINT or SIGTERM.
struct RunSession {
    var global: GlobalOptions
    var store: any FileWorkflowStore
    var key: WorkflowKey
    var definition: WorkflowDefinition
    var settings: RunSettings

    /// Runs the workflow to its end (or until interrupted) and returns the exit status.
    func run(existing: WorkflowState?) async throws -> ExitStatus {
        let logs = store.directory(for: key) + "/logs"
        let shell = ShellNodes(definition: definition, logDirectory: logs, maxOutputBytes: settings.maxOutputBytes)
        let dag = try shell.dag()
        let initial = existing?.nodes ?? dag.nodeNames.map(NodeState.init(name:))
        let progress = Progress(mode: .choose(quiet: global.quiet), workflow: key.id, initial: initial)
        // The library's defaults (dependency scheduling, node persistence, fsync), with the flags.
        var options = global.executionOptions
        options.maxConcurrency = max(
            1, settings.concurrency ?? definition.concurrency ?? ProcessInfo.processInfo.activeProcessorCount)
        options.failurePolicy = settings.keepGoing ? .continueIndependent : .failFast
        options.limits = PayloadLimits(maxOutputBytes: settings.maxOutputBytes)
        options.onEvent = { progress.handle($0) }
        let workflow = Workflow(id: key.id, tenant: key.tenant, dag: dag, store: store, options: options)
        let source = definition.source

        let interrupts = Interrupts(
            notice: "flowctl: interrupted: stopping the running nodes (interrupt again to kill them at once)")
        defer {
            interrupts.stop()
            shell.inputs.removeAll()
        }
        let (result, interrupted) = try await progress.clearingOnError {
            try await execute(workflow, source: source, progress: progress, interrupts: interrupts)
        }
        progress.finish(progress.summary(result.state, interrupted: interrupted))
        if interrupted { return .interrupted }
        switch result.status {
        case .completed: return .success
        case .cancelled, .interrupted: return .interrupted
        default: return .workflowFailed
        }
    }

    /// Runs `workflow` beside the signal watcher and the live display; the first signal cancels
    /// the run, which then records its nodes `cancelled` and returns.
    private func execute(
        _ workflow: Workflow, source: Data, progress: Progress, interrupts: Interrupts
    ) async throws -> (ExecutionResult, interrupted: Bool) {
        try await withThrowingTaskGroup(of: Piece.self) { group in
            group.addTask { .result(try await workflow.execute(definition: source)) }
            group.addTask {
                for await _ in interrupts.signals { return .interrupted }
                return .idle
            }
            group.addTask {
                await progress.drive()
                return .idle
            }
            var result: ExecutionResult?
            var interrupted = false
            while let piece = try await group.next() {
                switch piece {
                case .result(let value):
                    result = value
                    group.cancelAll()
                case .interrupted:
                    // Cancelling the group cancels the run: nodes stop and are recorded `cancelled`.
                    interrupted = true
                    group.cancelAll()
                case .idle:
                    break
                }
            }
            // The run's task ends with a result or an error, and an error ends the loop above.
            guard let result else { throw CLIError(.storeOrData, "the run ended without a result") }
            return (result, interrupted)
        }
    }

    private enum Piece: Sendable {
        case result(ExecutionResult)
        case interrupted
        case idle
    }
}

/// The options of `run` and `resume` that shape how nodes run.
struct RunSettings: Sendable {
    /// Overrides the definition's `concurrency`.
    var concurrency: Int?
    /// The largest node output.
    var maxOutputBytes: Int
    /// Keep running independent nodes after a failure.
    var keepGoing: Bool
}
