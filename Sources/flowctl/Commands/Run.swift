import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl run FILE`: starts the workflow a definition file describes, or resumes it.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the workflow a YAML or JSON definition file describes.",
        discussion: """
            A stored workflow with the same ID that has not finished (a run was killed or \
            interrupted, or nodes were reset) resumes: completed nodes are not run again. One that \
            completed or failed is only reported; use --restart to start it over, or \
            `flowctl reset` to rerun part of it.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runOptions: RunOptions

    @Argument(help: ArgumentHelp("The definition file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Delete the stored workflow with this ID first and start over.")
    var restart = false

    func run() async throws {
        let definition = try DefinitionParser.parse(file: file)
        let store = try global.openStore()
        let key = try global.key(definition.id)
        // A workflow whose files cannot be read (a damaged journal) is deleted all the same:
        // starting over is how it is left behind.
        if restart, FileManager.default.fileExists(atPath: store.directory(for: key)) {
            do {
                try await store.delete(key)
            } catch let error as FlowError where error.code == .notFound {
                // A directory without a snapshot: nothing stored to delete.
            }
        }
        let existing = try await store.loadIfPresent(key)
        // Completed and failed mean nothing is left to run (a reset makes a workflow pending
        // again); an interrupted (cancelled) or killed (running) one resumes.
        if let existing, existing.status == .completed || existing.status == .failed {
            Terminal.out(StatusReport.finishedRunLine(existing) + "\n")
            throw (existing.status == .completed ? ExitStatus.success : .workflowFailed).exitCode
        }
        let session = RunSession(
            global: global, store: store, key: key, definition: definition, settings: runOptions.settings)
        let status: ExitStatus
        do {
            status = try await session.run(existing: existing)
        } catch let error as FlowError where error.code == .fingerprintMismatch {
            throw CLIError(
                .storeOrData,
                "workflow \(key) was started from a different graph (nodes or needs changed since); finish it with `flowctl resume \(key.id)` or start over with --restart")
        }
        if status != .success { throw status.exitCode }
    }
}
