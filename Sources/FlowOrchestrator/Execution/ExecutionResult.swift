import Foundation

/// What one call of ``Workflow/execute(input:definition:)`` did.
public struct ExecutionResult: Sendable {
    /// The workflow's state when the run ended, as stored.
    public var state: WorkflowState
    /// Counters and durations of this run.
    public var metrics: ExecutionMetrics

    /// How the run ended.
    public var status: WorkflowStatus { state.status }
}

/// Counters and durations of one run.
public struct ExecutionMetrics: Sendable, Equatable {
    /// Nodes started in this run (each attempt counts once).
    public var attemptsStarted = 0
    /// Nodes that completed in this run.
    public var nodesCompleted = 0
    /// Nodes that failed in this run.
    public var nodesFailed = 0
    /// Nodes skipped in this run because a dependency failed.
    public var nodesSkipped = 0
    /// Nodes cancelled in this run.
    public var nodesCancelled = 0
    /// Nodes not run because an earlier run completed them.
    public var nodesAlreadyCompleted = 0
    /// Retries scheduled.
    public var retries = 0
    /// Events recorded.
    public var events = 0
    /// Writes to the store (snapshots or journal batches).
    public var storeWrites = 0
    /// Time spent in the run, from loading the state to the last write.
    public var duration: Duration = .zero
    /// Time spent waiting for the store.
    public var persistDuration: Duration = .zero
}
