import FlowOrchestrator
import Foundation
import Logging

/// The workflow type of definition files, which `submit` queues and `worker` runs: the
/// definition's source is stored with the workflow (as `run` stores it), so a worker needs no
/// file, and every node runs its shell command as a child of the worker that claimed it.
enum DefinitionType {
    /// The type's name in run records.
    static let name = "flowctl.definition"
    /// The type's version; raise it (and keep the old one registered) when the way a stored
    /// definition becomes a DAG changes.
    static let version = 1

    /// The type for workflows of `store`, with node outputs up to `maxOutputBytes`.
    static func type(store: FlatBuffersStore, maxOutputBytes: Int = 1 << 20) -> WorkflowType {
        WorkflowType(name: name, version: version, plan: { input in
            guard let source = input.definition, !source.isEmpty else {
                throw CLIError(.storeOrData, "workflow \(input.key) has no stored definition")
            }
            let definition: WorkflowDefinition
            do {
                definition = try DefinitionParser(origin: "stored definition of \(input.key.id)")
                    .parse(source, defaultID: input.key.id)
            } catch {
                throw CLIError(.storeOrData, "\(error)")
            }
            let directory = store.directory(for: input.key)
            var shell = ShellNodes(
                definition: definition, logDirectory: directory + "/logs", maxOutputBytes: maxOutputBytes)
            shell.processRecords = directory + "/nodes"
            let inputs = shell.inputs
            return WorkflowPlan(
                dag: try shell.dag(), maxConcurrency: definition.concurrency, onEnd: { inputs.removeAll() },
                // Taking over from a worker that died: what it left running stops first.
                beforeNodes: { OrphanNodes.stopAll(in: directory + "/nodes") })
        })
    }

    /// A runtime over `store` that knows this type.
    static func runtime(store: FlatBuffersStore, options: RuntimeOptions = RuntimeOptions(), logger: Logger? = nil)
        async throws -> WorkflowRuntime
    {
        let runtime = WorkflowRuntime(store: store, options: options, logger: logger)
        try await runtime.register(type(store: store))
        return runtime
    }
}
