import ArgumentParser
import FlowOrchestrator
import Foundation
import Logging

/// `flowctl worker`: runs queued workflows until SIGINT or SIGTERM.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run queued workflows until SIGINT or SIGTERM.",
        discussion: """
            Several workers may share one store: each claims queued workflows (highest priority \
            first, never before their start time, within each queue's limits), and a workflow \
            whose worker died is taken over at once. A node's shell is a child of the worker \
            that runs it. At SIGINT or SIGTERM the worker stops claiming, lets running nodes \
            finish within --grace, then stops the rest (recorded interrupted, so another worker \
            resumes them) and exits 0. A second signal kills the running nodes at once.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("A queue to claim from (repeatable; default: every queue).", valueName: "name"))
    var queue: [String] = []

    @Option(name: .long, help: "The most workflows run at once (default: the number of CPUs).")
    var concurrency: Int?

    @Option(name: .long, help: ArgumentHelp("How long running nodes may finish after SIGINT or SIGTERM.", valueName: "duration"))
    var grace = "10s"

    @Option(name: .long, help: ArgumentHelp("The largest output (stdout) a node may write, in bytes; K, M and G suffixes work.", valueName: "bytes"))
    var maxOutput: String = "1M"

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if DurationText.parse(grace) == nil {
            throw ValidationError("--grace \(TextFormat.quoted(grace)) is not a duration: \(DurationText.expected)")
        }
        if ByteCount.parse(maxOutput) == nil {
            throw ValidationError("--max-output \(TextFormat.quoted(maxOutput)) is not a byte count like 65536, 512K or 4M")
        }
        for name in queue {
            if let problem = Names.problem(with: name) { throw ValidationError("queue \(TextFormat.quoted(name)) \(problem)") }
        }
    }

    func run() async throws {
        let store = try global.openStore()
        let options = RuntimeOptions(
            maxConcurrentWorkflows: concurrency ?? ProcessInfo.processInfo.activeProcessorCount,
            queues: queue.isEmpty ? nil : queue, shutdownGrace: DurationText.parse(grace)!,
            execution: global.executionOptions)
        var logger = Logger(label: "flowctl.worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = global.quiet ? .error : .warning
        let runtime = WorkflowRuntime(store: store, options: options, logger: logger)
        try await runtime.register(
            DefinitionType.type(store: store, maxOutputBytes: ByteCount.parse(maxOutput)!))
        let interrupts = Interrupts(
            notice: "flowctl: worker stopping: no new claims; running nodes may finish within \(grace) (interrupt again to kill them)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in interrupts.signals {
                    await runtime.shutdown()
                    return
                }
            }
            try await runtime.run()
            interrupts.stop()
            try await group.waitForAll()
        }
        // A node stopped at the end may still be exiting (SIGTERM, then SIGKILL after its grace).
        await LiveProcesses.waitUntilGone(within: .seconds(8))
    }
}
