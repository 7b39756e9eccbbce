/// When a workflow's state is written to its store.
public enum PersistenceStrategy: String, Sendable, CaseIterable {
    /// Once, when the run ends. A crash loses the whole run's progress.
    case end
    /// A snapshot after each level completes (and when the run ends).
    case level
    /// Every status change: journaled by stores that keep a journal, a full snapshot otherwise.
    /// A node's end state is durable before its dependents start. On a journaling store with
    /// dependency scheduling, a completion is written at once but synced only when a dependent
    /// needs it (or 50 ms later, or at the run's end), sharing one sync with every completion
    /// made meanwhile; see ADR 4.
    case node
}

/// How hard a store works to keep a write across power loss.
public enum Durability: String, Sendable, CaseIterable {
    /// Writes are synced to the device (`fdatasync`) before the call returns; concurrent
    /// changes share one sync (group commit).
    case fsync
    /// Writes reach the operating system only: they survive a crash of the process, but the
    /// last moments before a power loss or kernel crash may be lost.
    case buffered
}

/// What happens to the rest of the workflow when a node fails.
public enum FailurePolicy: Sendable {
    /// Cancel the nodes in flight (recorded `cancelled`) and start nothing new.
    case failFast
    /// Keep running every node that does not depend on the failure; its dependents are `skipped`.
    case continueIndependent
}

/// When a node may start.
public enum Scheduling: Sendable {
    /// Level by level: a level starts when the whole previous level has ended.
    case levels
    /// A node starts as soon as its own dependencies have completed.
    case dependencies
}

/// How a workflow runs and persists.
public struct ExecutionOptions: Sendable {
    /// The most nodes running at once.
    public var maxConcurrency: Int
    /// When nodes may start.
    public var scheduling: Scheduling
    /// What a failure does to the rest of the run.
    public var failurePolicy: FailurePolicy
    /// When state is written.
    public var persistence: PersistenceStrategy
    /// How hard writes try to survive power loss.
    public var durability: Durability
    /// Size limits on inputs, outputs and data values.
    public var limits: PayloadLimits
    /// Whether stored state made for a different DAG may be resumed; nodes are matched by name,
    /// new nodes start pending and nodes no longer in the DAG are dropped.
    public var allowDAGChange: Bool
    /// Called with every event, in sequence order, as it is applied (before it is durable).
    ///
    /// It runs while the run's bookkeeping lock is held, which is what keeps the order: keep it
    /// short (hand the event to a queue or an `AsyncStream` continuation), and never call back
    /// into the workflow from it.
    public var onEvent: (@Sendable (WorkflowEvent) -> Void)?
    /// The most times a run may recover the workflow after a crash (find it `running`) without
    /// a node completing in between; the run after that fails the workflow with the reason
    /// `recovery limit ...` (``WorkflowState/reason``) instead of running anything, so that a
    /// workflow that keeps killing its process does not loop forever. At least 1.
    public var recoveryLimit: Int
    /// A caller's request to cancel the run for good (see ``CancellationRequest``); nil for none.
    public var cancellation: CancellationRequest?

    /// Options with every field given. The defaults are durable and are what `flowctl` uses:
    /// dependency scheduling, `node` persistence (every status change journaled, so a
    /// `FlatBuffersStore` keeps the event history) and `fsync` durability, up to 64 nodes at once,
    /// fail-fast.
    public init(
        maxConcurrency: Int = 64, scheduling: Scheduling = .dependencies,
        failurePolicy: FailurePolicy = .failFast, persistence: PersistenceStrategy = .node,
        durability: Durability = .fsync, limits: PayloadLimits = PayloadLimits(),
        allowDAGChange: Bool = false, onEvent: (@Sendable (WorkflowEvent) -> Void)? = nil,
        recoveryLimit: Int = 5, cancellation: CancellationRequest? = nil
    ) {
        self.maxConcurrency = max(1, maxConcurrency)
        self.scheduling = scheduling
        self.failurePolicy = failurePolicy
        self.persistence = persistence
        self.durability = durability
        self.limits = limits
        self.allowDAGChange = allowDAGChange
        self.onEvent = onEvent
        self.recoveryLimit = max(1, recoveryLimit)
        self.cancellation = cancellation
    }
}
