import Foundation
import Logging

/// A DAG bound to a key (tenant and ID) and a store: the unit that runs, persists and resumes.
///
/// ```swift
/// let workflow = Workflow(key: try WorkflowKey(id: "nightly"), dag: dag, store: store)
/// let result = try await workflow.execute()
/// ```
///
/// Running the same workflow again after a crash or a failure continues from the stored state:
/// completed nodes are not run again.
public struct Workflow: Sendable {
    /// Which workflow this is: its tenant and ID, as the store names it.
    public let key: WorkflowKey
    /// The workflow's ID within its tenant.
    public var id: String { key.id }
    /// The tenant the workflow belongs to.
    public var tenant: String { key.tenant }
    /// What runs.
    public let dag: DAG
    /// Where the state lives.
    public let store: any WorkflowStore
    /// How it runs and persists.
    public var options: ExecutionOptions
    /// Where it logs; the library never creates a logger of its own.
    public var logger: Logger

    /// The workflow `key` of `store`, running `dag`. Nothing is read or written until a call
    /// below. The default options are durable (see ``ExecutionOptions``).
    public init(
        key: WorkflowKey, dag: DAG, store: any WorkflowStore, options: ExecutionOptions = ExecutionOptions(),
        logger: Logger? = nil
    ) {
        self.key = key
        self.dag = dag
        self.store = store
        self.options = options
        self.logger = logger ?? Logger(label: "FlowOrchestrator", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Runs every node that has not completed yet and returns the final state.
    ///
    /// A workflow not in the store starts with `input` (and `definition`, an opaque description
    /// kept with the state); a stored one resumes with its stored input: nodes found `running`
    /// (their process died) run again with the attempt the crash cut short counted against their
    /// retry budget (a node whose budget the crashes spent fails, saying how many attempts
    /// crashes interrupted), `interrupted`, `skipped` and `cancelled` nodes are reconsidered,
    /// `failed` nodes stay failed until reset. A workflow recovered from a crash more than
    /// `options.recoveryLimit` times without a node completing is failed with that reason.
    ///
    /// Cancelling the calling task interrupts the run: the nodes in flight and the workflow are
    /// recorded `interrupted`, and the next call resumes them. `options.cancellation` cancels it
    /// for good (`cancelled`). Node failures, interrupts and cancellation are reported in the
    /// result's status, not thrown.
    ///
    /// When this returns, the final state is durable as `options.durability` says. Throws
    /// ``FlowError``: `locked` (another writer), `fingerprintMismatch`,
    /// `payloadTooLarge` (input), `cancelled` (the stored workflow was cancelled: reset it
    /// first), `corruptData`, `newerFormat`, `persistenceFailed` (the run stopped; the store
    /// holds the last durable state).
    public func execute(input: Data = Data(), definition: Data? = nil) async throws -> ExecutionResult {
        try PayloadLimits.check(
            input.count, limit: options.limits.maxInputBytes, what: "input of workflow \(key)")
        return try await store.withWriter(key) { writer in
            var state: WorkflowState
            var saveFirst = false
            if let stored = try await store.loadIfPresent(key) {
                state = try checked(stored, key: key)
                saveFirst = state.fingerprint != dag.fingerprint
                if saveFirst { state.reconcile(with: dag) }
                // A state stored before shapes were kept gets one (saved with the next snapshot).
                if state.shape == nil { state.shape = DAGShape(dag) }
                if state.status == .completed, state.nodes.allSatisfy({ $0.status == .completed }) {
                    return ExecutionResult(state: state, metrics: ExecutionMetrics())
                }
                if state.status == .cancelled {
                    throw FlowError(
                        .cancelled,
                        "workflow \(key) was cancelled (\(state.reason ?? "by request")); reset a node to run it again")
                }
            } else {
                state = WorkflowState(
                    id: key.id, tenant: key.tenant, fingerprint: dag.fingerprint,
                    nodeNames: dag.nodeNames, input: input, definition: definition)
                state.shape = DAGShape(dag)
                saveFirst = options.persistence != .end
            }
            if saveFirst { try await writer.save(state, durability: options.durability) }
            let coordinator = RunCoordinator(
                key: key, dag: dag, state: state, store: store, writer: writer, options: options, logger: logger)
            return try await coordinator.run()
        }
    }

    /// The stored state; throws `notFound` when the workflow has never been saved.
    public func state() async throws -> WorkflowState {
        try await store.load(key)
    }

    // MARK: Manual and partial recovery

    /// Sets every failed node (and, in a cancelled workflow, every cancelled one) back to
    /// pending so that the next ``execute(input:definition:)`` runs it again. Durable on return as `options.durability` says.
    @discardableResult
    public func resetFailedNodes() async throws -> WorkflowState {
        try await change { state in
            // A cancelled workflow's cancelled nodes count as failed here: resetting reopens it.
            state.nodes.indices.filter {
                state.nodes[$0].status == .failed || (state.status == .cancelled && state.nodes[$0].status == .cancelled)
            }
            .map { ($0, .nodeReset(node: state.nodes[$0].name)) }
        }
    }

    /// Sets `node` (and, if asked, every node that depends on it) back to pending, whatever its
    /// status, so that the next run runs it again; a cancelled workflow is reopened by it.
    /// Durable on return.
    @discardableResult
    public func reset(node: String, includingDescendants: Bool = false) async throws -> WorkflowState {
        let index = try nodeIndex(node)
        let targets = [index] + (includingDescendants ? dag.descendants(of: index) : [])
        return try await change { state in
            // A pending node of a cancelled workflow is reset too: that is what reopens it.
            targets.filter { state.nodes[$0].status != .pending || state.status == .cancelled }
                .map { ($0, .nodeReset(node: state.nodes[$0].name)) }
        }
    }

    /// Records `node` as completed with `output` without running it, so that its dependents can
    /// run. Durable on return.
    @discardableResult
    public func markCompleted(node: String, output: Data = Data()) async throws -> WorkflowState {
        let index = try nodeIndex(node)
        try PayloadLimits.check(
            output.count, limit: options.limits.maxOutputBytes, what: "output of node \(Names.quoted(node))")
        return try await change { state in [(index, .nodeMarkedCompleted(node: state.nodes[index].name, output: output))] }
    }

    /// Cancels the stored workflow for good: every node not finished is recorded `cancelled`,
    /// the workflow `cancelled` with `reason` (``WorkflowState/reason``), and a later
    /// ``execute(input:definition:)`` refuses it until a node is reset. A completed workflow is
    /// left as it is. Durable on return as `options.durability` says.
    ///
    /// This takes the workflow's writer, so it throws `locked` while a process runs the
    /// workflow; to cancel a run in progress in this process, give it a ``CancellationRequest``.
    @discardableResult
    public func cancel(reason: String = "cancelled by request") async throws -> WorkflowState {
        try await change { state in
            guard state.status != .completed, state.status != .cancelled else { return [] }
            var changes: [(Int?, WorkflowEvent.Change)] = state.nodes.indices
                .filter { !state.nodes[$0].status.isFinished }
                .map { ($0, .nodeCancelled(node: state.nodes[$0].name)) }
            changes.append((nil, .workflowFinished(status: .cancelled, reason: reason)))
            return changes
        }
    }

    // MARK: Helpers

    private func nodeIndex(_ name: String) throws(FlowError) -> Int {
        guard let index = dag.index(of: name) else {
            throw FlowError(.unknownNode, "workflow \(key) has no node \(Names.quoted(name))")
        }
        return index
    }

    /// Loads the stored state under the writer lock, applies the changes `changes` asks for
    /// (each with the index of the node it names, if any) and persists them (journaled when the
    /// store keeps a journal, as a snapshot otherwise).
    private func change(
        _ changes: @Sendable (WorkflowState) -> [(Int?, WorkflowEvent.Change)]
    ) async throws -> WorkflowState {
        try await store.withWriter(key) { writer in
            var state = try checked(try await store.load(key), key: key)
            if state.fingerprint != dag.fingerprint { state.reconcile(with: dag) }
            var events: [WorkflowEvent] = []
            for (index, change) in changes(state) {
                let event = WorkflowEvent(
                    sequence: state.lastSequence &+ 1, time: .nowMicroseconds(), change: change,
                    nodeIndex: index.map(Int32.init) ?? -1)
                try state.apply(event)
                events.append(event)
            }
            guard !events.isEmpty else { return state }
            logger.info("state changed by hand", metadata: ["workflow": "\(key)", "events": "\(events.count)"])
            if store.supportsJournal, state.fingerprint == dag.fingerprint {
                try await writer.append(events, durability: options.durability)
            } else {
                try await writer.save(state, durability: options.durability)
            }
            return state
        }
    }

    /// Checks that a loaded state belongs to this DAG (or may be adapted to it).
    private func checked(_ state: WorkflowState, key: WorkflowKey) throws(FlowError) -> WorkflowState {
        if state.fingerprint == dag.fingerprint {
            guard state.nodes.map(\.name) == dag.nodeNames else {
                throw FlowError(.corruptData, "workflow \(key): stored nodes do not match its fingerprint")
            }
        } else if !options.allowDAGChange {
            throw FlowError(
                .fingerprintMismatch,
                "workflow \(key) was stored for a different DAG (stored \(state.fingerprint), given \(dag.fingerprint)); allow DAG changes to resume it anyway"
            )
        }
        return state
    }
}

extension WorkflowState {
    /// Adapts the state to `dag`: nodes are matched by name, new ones start pending, missing ones
    /// are dropped, and the order and fingerprint become the DAG's.
    mutating func reconcile(with dag: DAG) {
        var byName: [String: NodeState] = [:]
        for node in nodes { byName[node.name] = node }
        nodes = dag.nodeNames.map { byName[$0] ?? NodeState(name: $0) }
        fingerprint = dag.fingerprint
        shape = DAGShape(dag)
    }
}
