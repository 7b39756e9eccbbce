import FlowOrchestrator
import Foundation
import Synchronization

/// Turns a definition into a DAG whose nodes run their `run` command through ``ChildProcess``.
///
/// The contract with a node's command (documented in `Examples/README.md`):
/// - stdout is the node's output, up to `maxOutputBytes`; more fails the node;
/// - stderr is appended to `LOGS/NODE.log`, after a header line per attempt;
/// - the environment is flowctl's, plus the node's `env`, plus `FLOW_WORKFLOW_ID`,
///   `FLOW_TENANT`, `FLOW_NODE`, `FLOW_ATTEMPT`, `FLOW_IDEMPOTENCY_KEY`, and for each
///   dependency `FLOW_OUTPUT_<name>` (its output without trailing newlines, when it is at most
///   ``maxVariableBytes`` and holds no NUL byte) and a file `$FLOW_INPUTS/<name>` (its exact bytes;
///   the directory is shared by the run's nodes and removed when the run ends).
struct ShellNodes: Sendable {
    /// The largest output passed in an environment variable.
    static let maxVariableBytes = 64 << 10

    var definition: WorkflowDefinition
    /// Where per-node stderr logs go; nil to discard stderr.
    var logDirectory: String?
    var maxOutputBytes: Int
    var killGrace: Duration = .seconds(5)
    /// flowctl's environment, the base of every node's.
    var baseEnvironment: [String: String] = ProcessInfo.processInfo.environment
    /// Where dependency outputs are put as files; the owner removes it when the run ends.
    var inputs = InputFiles()
    /// Where each running node's process group is recorded (`NODE.pgid`), so that a worker
    /// taking the workflow over from a dead one stops what it left running (``OrphanNodes``);
    /// nil to record nothing.
    var processRecords: String?

    /// The DAG: one node per definition node, in file order.
    func dag() throws -> DAG {
        let base = BaseEnvironment(baseEnvironment)
        return try DAG(nodes: definition.nodes.map { node in
            let outputVariables = node.needs.map(EnvironmentName.output(of:))
            return DAG.Node(
                node.name, dependsOn: node.needs, retry: retryPolicy(node), timeout: node.timeout,
                action: { context in try await run(node, context, base: base, outputVariables: outputVariables) })
        })
    }

    /// What records `node`'s process group in `directory` once started; nil without a directory.
    private static func recorder(_ directory: String?, node: String) -> (@Sendable (pid_t) -> Void)? {
        guard let directory else { return nil }
        return { pid in OrphanNodes.record(pid, node: node, in: directory) }
    }

    private func retryPolicy(_ node: NodeDefinition) -> RetryPolicy {
        guard node.attempts > 1 else { return .none }
        return RetryPolicy(maxAttempts: node.attempts, initialBackoff: node.backoff ?? .seconds(1))
    }

    /// One attempt of `node`; `outputVariables` are the `FLOW_OUTPUT_` names of its `needs`.
    private func run(
        _ node: NodeDefinition, _ context: NodeContext, base: BaseEnvironment, outputVariables: [String]
    ) async throws -> NodeOutput {
        var environment: [String: String] = [:]
        for entry in node.env { environment[entry.name] = entry.value }
        environment["FLOW_WORKFLOW_ID"] = context.workflowID
        environment["FLOW_TENANT"] = context.tenant
        environment["FLOW_NODE"] = context.node
        environment["FLOW_ATTEMPT"] = String(context.attempt)
        environment["FLOW_IDEMPOTENCY_KEY"] = context.idempotencyKey
        if !node.needs.isEmpty {
            environment["FLOW_INPUTS"] = try inputs.directory()
            for (dependency, variable) in zip(node.needs, outputVariables) {
                let output = try context.output(of: dependency) ?? Data()
                try inputs.provide(dependency, output)
                if output.count <= Self.maxVariableBytes, !output.contains(0) {
                    var text = String(decoding: output, as: UTF8.self)
                    while text.last?.isNewline == true { text.removeLast() }
                    environment[variable] = text
                }
            }
        }
        let logPath = logDirectory.map { $0 + "/" + node.name + ".log" }
        let started = Date()
        let attempt = context.attempt
        let spec = CommandSpec(
            command: node.run, environment: base.entries(overriddenBy: environment),
            directory: node.cwd, logPath: logPath,
            // Formatted only for a command that writes to stderr.
            logHeader: { "--- \(TextFormat.iso8601(started)) attempt \(attempt) ---\n" },
            maxOutputBytes: maxOutputBytes, killGrace: killGrace,
            onStart: Self.recorder(processRecords, node: node.name))
        defer { if let processRecords { OrphanNodes.forget(node: node.name, in: processRecords) } }
        let result: CommandResult
        do {
            result = try await ChildProcess.run(spec)
        } catch let error as CommandStartError {
            throw NodeFailure(error.description)
        }
        switch result.stopReason {
        case .cancelled:
            throw CancellationError()
        case .outputTooLarge:
            throw NodeFailure(
                "stdout went over the output limit of \(TextFormat.bytes(maxOutputBytes)) (write bulk data to a file, or raise --max-output)")
        case nil:
            break
        }
        let detail = result.lastErrorLine.map { ": " + $0 } ?? ""
        switch result.ending {
        case .exited(0):
            return NodeOutput(result.output)
        case .exited(let code):
            throw NodeFailure("exit \(code)\(detail)")
        case .signalled(let signal):
            throw NodeFailure("killed by \(SignalName.of(signal))\(detail)")
        }
    }

}

/// flowctl's own environment as `NAME=value` entries, made once per run: each node's
/// environment is these, less the names the node sets, plus the node's own.
struct BaseEnvironment: Sendable {
    private let named: [(name: String, entry: String)]

    init(_ environment: [String: String]) {
        named = environment.compactMap { name, value in
            let entry = name + "=" + value
            return entry.utf8.contains(0) ? nil : (name, entry)
        }
    }

    /// The entries with `overrides` in place of flowctl's values (entries holding a NUL byte,
    /// which cannot be passed, are left out).
    func entries(overriddenBy overrides: [String: String]) -> [String] {
        var entries: [String] = []
        entries.reserveCapacity(named.count + overrides.count)
        for (name, entry) in named where overrides[name] == nil { entries.append(entry) }
        for (name, value) in overrides {
            let entry = name + "=" + value
            if !entry.utf8.contains(0) { entries.append(entry) }
        }
        return entries
    }
}

/// The run's `FLOW_INPUTS` directory: one file per completed node whose output a dependent
/// needed, written once, before the first node that reads it starts, and kept until the run ends.
final class InputFiles: Sendable {
    private struct Files {
        var directory: String?
        var written: Set<String> = []
    }

    private let files = Mutex(Files())

    /// The directory, created on first use in the system's temporary directory.
    func directory() throws -> String {
        try files.withLock { try Self.directory(&$0) }
    }

    private static func directory(_ files: inout Files) throws -> String {
        if let directory = files.directory { return directory }
        let base = Self.base()
        Self.removeAbandoned(in: base)
        var template = Array((base + "/\(Self.prefix)\(getpid())-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw NodeFailure("cannot create a directory for node inputs: \(SystemError.text(errno))")
        }
        let directory = String(cString: made)
        files.directory = directory
        return directory
    }

    /// Where input directories go: a memory file system when there is one (`$XDG_RUNTIME_DIR`,
    /// then `/dev/shm`), else the temporary directory. Creating a file per completed node on a
    /// disk file system costs more than running the node itself (ext4 scans for recently
    /// deleted inodes on every create); on tmpfs it is nearly free.
    private static func base() -> String {
        var candidates: [String] = []
        if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            candidates.append(runtime)
        }
        candidates.append("/dev/shm")
        for candidate in candidates where access(candidate, W_OK | X_OK) == 0 { return candidate }
        var temporary = NSTemporaryDirectory()
        while temporary.count > 1, temporary.hasSuffix("/") { temporary.removeLast() }
        return temporary
    }

    /// Directory names start with this and the owner's process ID.
    private static let prefix = "flowctl-inputs-"

    /// Removes input directories whose flowctl died without cleaning up (kill -9, power loss).
    private static func removeAbandoned(in base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix(prefix) {
            let owner = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = pid_t(owner), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: base + "/" + name)
        }
    }

    /// Makes `$FLOW_INPUTS/NODE` hold `output`, unless it already does. The file is written
    /// whole under the lock, so a node that finds it written (and every node started after this
    /// returns) reads all of it.
    func provide(_ node: String, _ output: Data) throws {
        try files.withLock { files in
            if files.written.contains(node) { return }
            let path = try Self.directory(&files) + "/" + node
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            var failure = fd < 0 ? errno : 0
            if fd >= 0 {
                output.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count, failure == 0 {
                        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if written > 0 {
                            offset += written
                        } else if written < 0, errno != EINTR {
                            failure = errno
                        }
                    }
                }
                close(fd)
            }
            guard failure == 0 else {
                unlink(path)
                throw NodeFailure("cannot write the input file of \(TextFormat.quoted(node)): \(SystemError.text(failure))")
            }
            files.written.insert(node)
        }
    }

    /// Removes the directory and everything in it.
    func removeAll() {
        guard let directory = files.withLock({ $0.directory }) else { return }
        // The files flowctl wrote, by name (FileManager stats each entry first: for a
        // 1,000-node run that was a few milliseconds at exit); anything else a node left there
        // goes with FileManager.
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            for name in files.withLock({ $0.written }) { unlinkat(fd, name, 0) }
            close(fd)
        }
        if rmdir(directory) != 0 { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Why a node attempt failed, as stored in its state and shown to the user.
struct NodeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
