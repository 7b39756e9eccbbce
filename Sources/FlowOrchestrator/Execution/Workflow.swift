import Foundation
import Logging

/// A DAG bound to an ID and a store: the unit that runs, persists and resumes.
///
/// ```swift
/// let workflow = Workflow(id: "nightly", dag: dag, store: store)
/// let result = try await workflow.execute()
/// ```
///
/// Running the same workflow again after a crash or a failure continues from the stored state:
/// completed nodes are not run again.
public struct Workflow: Sendable {
    /// The workflow's ID within its tenant.
    public let id: String
    /// The tenant the workflow belongs to.
    public let tenant: String
    /// What runs.
    public let dag: DAG
    /// Where the state lives.
    public let store: any WorkflowStore
    /// How it runs and persists.
    public var options: ExecutionOptions
    /// Where it logs; the library never creates a logger of its own.
    public var logger: Logger

    /// A workflow. Nothing is read or written until a call below.
    public init(
        id: String, tenant: String = WorkflowKey.defaultTenant, dag: DAG, store: any WorkflowStore,
        options: ExecutionOptions = ExecutionOptions(), logger: Logger? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.dag = dag
        self.store = store
        self.options = options
        self.logger = logger ?? Logger(label: "FlowOrchestrator", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Runs every node that has not completed yet and returns the final state.
    ///
    /// A workflow not in the store starts with `input` (and `definition`, an opaque description
    /// kept with the state); a stored one resumes with its stored input: nodes found `running`
    /// (their process died) run again with their attempt counted, `skipped` and `cancelled` nodes
    /// are reconsidered, `failed` nodes stay failed until reset. Node failures and cancellation
    /// are reported in the result's status, not thrown.
    ///
    /// When this returns, the final state is durable as `options.durability` says. Throws
    /// ``FlowError``: `invalidID`, `locked` (another writer), `fingerprintMismatch`,
    /// `payloadTooLarge` (input), `corruptData`, `persistenceFailed` (the run stopped; the store
    /// holds the last durable state).
    public func execute(input: Data = Data(), definition: Data? = nil) async throws -> ExecutionResult {
        let key = try WorkflowKey(tenant: tenant, id: id)
        try PayloadLimits.check(
            input.count, limit: options.limits.maxInputBytes, what: "input of workflow \(key)")
        return try await withWriter(key) {
            var state: WorkflowState
            var saveFirst = false
            if let stored = try await store.loadIfPresent(key) {
                state = try checked(stored, key: key)
                saveFirst = state.fingerprint != dag.fingerprint
                if saveFirst { state.reconcile(with: dag) }
                if state.status == .completed, state.nodes.allSatisfy({ $0.status == .completed }) {
                    return ExecutionResult(state: state, metrics: ExecutionMetrics())
                }
            } else {
                state = WorkflowState(
                    id: key.id, tenant: key.tenant, fingerprint: dag.fingerprint,
                    nodeNames: dag.nodeNames, input: input, definition: definition)
                saveFirst = options.persistence != .end
            }
            if saveFirst { try await store.save(state, durability: options.durability) }
            let coordinator = RunCoordinator(
                key: key, dag: dag, state: state, store: store, options: options, logger: logger)
            return try await coordinator.run()
        }
    }

    /// The stored state; throws `notFound` when the workflow has never been saved.
    public func state() async throws -> WorkflowState {
        try await store.load(WorkflowKey(tenant: tenant, id: id))
    }

    // MARK: Manual and partial recovery

    /// Sets every failed node back to pending so that the next ``execute(input:definition:)``
    /// runs it again. Durable on return as `options.durability` says.
    @discardableResult
    public func resetFailedNodes() async throws -> WorkflowState {
        try await recover { state in
            state.nodes.indices.filter { state.nodes[$0].status == .failed }
                .map { ($0, .nodeReset(node: state.nodes[$0].name)) }
        }
    }

    /// Sets `node` (and, if asked, every node that depends on it) back to pending, whatever its
    /// status, so that the next run runs it again. Durable on return.
    @discardableResult
    public func reset(node: String, includingDescendants: Bool = false) async throws -> WorkflowState {
        let index = try nodeIndex(node)
        let targets = [index] + (includingDescendants ? dag.descendants(of: index) : [])
        return try await recover { state in
            targets.filter { state.nodes[$0].status != .pending }.map { ($0, .nodeReset(node: state.nodes[$0].name)) }
        }
    }

    /// Records `node` as completed with `output` without running it, so that its dependents can
    /// run. Durable on return.
    @discardableResult
    public func markCompleted(node: String, output: Data = Data()) async throws -> WorkflowState {
        let index = try nodeIndex(node)
        try PayloadLimits.check(
            output.count, limit: options.limits.maxOutputBytes, what: "output of node \(Names.quoted(node))")
        return try await recover { state in [(index, .nodeMarkedCompleted(node: state.nodes[index].name, output: output))] }
    }

    // MARK: Helpers

    private func nodeIndex(_ name: String) throws(FlowError) -> Int {
        guard let index = dag.index(of: name) else {
            throw FlowError(.unknownNode, "workflow \(tenant)/\(id) has no node \(Names.quoted(name))")
        }
        return index
    }

    /// Loads the stored state under the writer lock, applies the events `changes` asks for and
    /// persists them (journaled when the store keeps a journal, as a snapshot otherwise). Each
    /// change comes with the index of the node it names.
    private func recover(
        _ changes: @Sendable (WorkflowState) -> [(Int, WorkflowEvent.Change)]
    ) async throws -> WorkflowState {
        let key = try WorkflowKey(tenant: tenant, id: id)
        return try await withWriter(key) {
            var state = try checked(try await store.load(key), key: key)
            if state.fingerprint != dag.fingerprint { state.reconcile(with: dag) }
            var events: [WorkflowEvent] = []
            for (index, change) in changes(state) {
                let event = WorkflowEvent(
                    sequence: state.lastSequence &+ 1, time: .nowMicroseconds(), change: change,
                    nodeIndex: Int32(index))
                try state.apply(event)
                events.append(event)
            }
            guard !events.isEmpty else { return state }
            logger.info("state changed by hand", metadata: ["workflow": "\(key)", "events": "\(events.count)"])
            if store.supportsJournal, state.fingerprint == dag.fingerprint {
                try await store.append(events, to: key, durability: options.durability)
            } else {
                try await store.save(state, durability: options.durability)
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

    private func withWriter<T>(_ key: WorkflowKey, _ body: () async throws -> T) async throws -> T {
        let lease = try await store.acquireWriter(key)
        do {
            let result = try await body()
            await lease.release()
            return result
        } catch {
            await lease.release()
            throw error
        }
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
    }
}
