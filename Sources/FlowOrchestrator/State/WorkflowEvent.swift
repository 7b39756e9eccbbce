import Foundation

/// One change to a workflow's state: the unit of the journal and of the event history.
///
/// An event is a ``sequence`` number, a ``time`` and a ``change``, an enum whose cases carry what
/// the change needs in Swift types. How the journal lays an event out on disk (Schemas/journal.fbs)
/// is the store's business.
public struct WorkflowEvent: Sendable, Equatable {
    /// What changed, with the values that change needs.
    public enum Change: Sendable, Equatable {
        /// The workflow was started or resumed, now in `status` (``WorkflowStatus/running``).
        case workflowStarted(status: WorkflowStatus)
        /// An attempt of `node` began; attempts count from 1.
        case nodeStarted(node: String, attempt: Int)
        /// `node` finished with `output`.
        case nodeCompleted(node: String, output: Data)
        /// `node` failed for good with `error`; `attempt` is the attempt that failed, when known.
        case nodeFailed(node: String, attempt: Int?, error: String)
        /// Attempt `attempt` of `node` failed with `error`; the next begins after `delay`.
        case nodeRetried(node: String, attempt: Int, delay: Duration, error: String)
        /// `node` will not run, for `reason` (typically a dependency that failed).
        case nodeSkipped(node: String, reason: String)
        /// `node` was cancelled.
        case nodeCancelled(node: String)
        /// `node` was set back to pending by hand; its output is dropped.
        case nodeReset(node: String)
        /// `node` was marked completed by hand with `output`.
        case nodeMarkedCompleted(node: String, output: Data)
        /// The workflow data `key` was set to `value`; nil removes it.
        case dataSet(key: String, value: Data?)
        /// The workflow run ended in `status`; `reason` says why when no node's error does (the
        /// recovery limit, a cancellation's reason), and is kept as ``WorkflowState/reason``.
        case workflowFinished(status: WorkflowStatus, reason: String?)
        /// `node` was in flight when its process was interrupted (task cancellation of the run);
        /// `attempt` is the attempt cut short, nil when the node was waiting to retry. The
        /// attempt is given back to the node's retry budget; the node runs again on resume.
        case nodeInterrupted(node: String, attempt: Int?)
        /// Found at recovery: attempt `attempt` of `node` was cut short by a crash of the process
        /// that ran it, as `error` says. The attempt stays counted against the node's retry budget.
        case nodeCrashed(node: String, attempt: Int, error: String)
    }

    /// The name of a kind of change, for display and filtering: `node.started`, `data.set`, ...
    /// (the raw value, also the suffix of the CloudEvents `type`).
    public enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        case workflowStarted = "workflow.started"
        case nodeStarted = "node.started"
        case nodeCompleted = "node.completed"
        case nodeFailed = "node.failed"
        case nodeRetried = "node.retried"
        case nodeSkipped = "node.skipped"
        case nodeCancelled = "node.cancelled"
        case nodeReset = "node.reset"
        case dataSet = "data.set"
        case workflowFinished = "workflow.finished"
        case nodeMarkedCompleted = "node.marked_completed"
        case nodeInterrupted = "node.interrupted"
        case nodeCrashed = "node.crashed"

        public var description: String { rawValue }
    }

    /// Position in the workflow's history, starting at 1 and without gaps.
    public let sequence: UInt64
    /// When it happened.
    public let time: Date
    /// What happened.
    public let change: Change
    /// The node's position in the workflow, a hint that spares a name lookup; -1 when unknown.
    package let nodeIndex: Int32

    /// An event of the history; `sequence` must follow the workflow's last event by one.
    public init(sequence: UInt64, time: Date, change: Change) {
        self.init(sequence: sequence, time: time, change: change, nodeIndex: -1)
    }

    /// An event with the index of the node it names (a hint checked against the name when applied).
    package init(sequence: UInt64, time: Date, change: Change, nodeIndex: Int32) {
        self.sequence = sequence
        self.time = time
        self.change = change
        self.nodeIndex = nodeIndex
    }

    /// The kind of ``change``.
    public var kind: Kind { change.kind }

    /// The node the event names, for node events; nil for workflow and data events.
    public var node: String? { change.node }
}

extension WorkflowEvent.Change {
    /// The values of a change as flat fields, under the names of the journal record and of
    /// `flowctl history --format json`: 0 for no attempt or delay, nil for the rest.
    package struct Fields: Sendable, Equatable {
        package var attempt = 0
        package var status: WorkflowStatus?
        package var error: String?
        package var key: String?
        package var payload: Data?
        package var delayMicroseconds = 0

        package init(_ change: WorkflowEvent.Change) {
            switch change {
            case .workflowStarted(let status):
                self.status = status
            case .workflowFinished(let status, let reason):
                self.status = status
                error = reason
            case .nodeInterrupted(_, let attempt):
                self.attempt = attempt ?? 0
            case .nodeCrashed(_, let attempt, let error):
                self.attempt = attempt
                self.error = error
            case .nodeStarted(_, let attempt):
                self.attempt = attempt
            case .nodeCompleted(_, let output), .nodeMarkedCompleted(_, let output):
                payload = output
            case .nodeFailed(_, let attempt, let error):
                self.attempt = attempt ?? 0
                self.error = error
            case .nodeRetried(_, let attempt, let delay, let error):
                self.attempt = attempt
                self.error = error
                let parts = delay.components
                delayMicroseconds = Int(parts.seconds * 1_000_000 + parts.attoseconds / 1_000_000_000_000)
            case .nodeSkipped(_, let reason):
                error = reason
            case .nodeCancelled, .nodeReset:
                break
            case .dataSet(let key, let value):
                self.key = key
                payload = value
            }
        }
    }

    /// This change as flat fields (see ``Fields``).
    package var fields: Fields { Fields(self) }

    /// The kind of this change.
    public var kind: WorkflowEvent.Kind {
        switch self {
        case .workflowStarted: .workflowStarted
        case .nodeStarted: .nodeStarted
        case .nodeCompleted: .nodeCompleted
        case .nodeFailed: .nodeFailed
        case .nodeRetried: .nodeRetried
        case .nodeSkipped: .nodeSkipped
        case .nodeCancelled: .nodeCancelled
        case .nodeReset: .nodeReset
        case .nodeMarkedCompleted: .nodeMarkedCompleted
        case .dataSet: .dataSet
        case .workflowFinished: .workflowFinished
        case .nodeInterrupted: .nodeInterrupted
        case .nodeCrashed: .nodeCrashed
        }
    }

    /// The node this change names, for node changes.
    public var node: String? {
        switch self {
        case .nodeStarted(let node, _), .nodeCompleted(let node, _), .nodeFailed(let node, _, _),
            .nodeRetried(let node, _, _, _), .nodeSkipped(let node, _), .nodeCancelled(let node),
            .nodeReset(let node), .nodeMarkedCompleted(let node, _), .nodeInterrupted(let node, _),
            .nodeCrashed(let node, _, _):
            node
        case .workflowStarted, .dataSet, .workflowFinished:
            nil
        }
    }
}

extension WorkflowState {
    /// Applies one event: the only way the executor changes a state.
    ///
    /// Throws `corruptData` when the event does not follow the last one applied or names a node
    /// the workflow does not have, so a damaged history is never half-applied silently.
    public mutating func apply(_ event: WorkflowEvent) throws(FlowError) {
        let index = try check(event, following: lastSequence)
        let time = event.time
        switch event.change {
        case .workflowStarted(let status):
            // Found running: the run before crashed, and this one recovers it.
            if self.status == .running { recoveries &+= 1 }
            self.status = status
        case .workflowFinished(let status, let reason):
            self.status = status
            // A failed workflow run again without a change keeps the reason it failed for.
            self.reason = reason ?? (status == .failed ? self.reason : nil)
        case .dataSet(let key, let value):
            data[key] = value
        case .nodeStarted(_, let attempt):
            guard let index else { break }
            nodes[index].status = .running
            nodes[index].attempts = UInt32(clamping: attempt)
            nodes[index].startedAt = time
            nodes[index].endedAt = nil
            nodes[index].countedAttempts &+= 1
            nodes[index].attemptOpen = true
        case .nodeCompleted(_, let output), .nodeMarkedCompleted(_, let output):
            guard let index else { break }
            nodes[index].status = .completed
            nodes[index].endedAt = time
            nodes[index].lastError = nil
            nodes[index].output = output
            nodes[index].resetBudget()
            recoveries = 0
        case .nodeFailed(_, _, let error):
            guard let index else { break }
            nodes[index].status = .failed
            nodes[index].endedAt = time
            nodes[index].lastError = error
            nodes[index].attemptOpen = false
        case .nodeRetried(_, _, _, let error):
            guard let index else { break }
            nodes[index].lastError = error
            nodes[index].attemptOpen = false
        case .nodeSkipped(_, let reason):
            guard let index else { break }
            nodes[index].status = .skipped
            nodes[index].endedAt = time
            nodes[index].lastError = reason
            nodes[index].attemptOpen = false
        case .nodeCancelled, .nodeInterrupted:
            guard let index else { break }
            if case .nodeCancelled = event.change { nodes[index].status = .cancelled } else { nodes[index].status = .interrupted }
            nodes[index].endedAt = time
            // The attempt did not fail: it is given back to the retry budget.
            if nodes[index].attemptOpen, nodes[index].countedAttempts > 0 { nodes[index].countedAttempts -= 1 }
            nodes[index].attemptOpen = false
        case .nodeCrashed:
            guard let index else { break }
            nodes[index].status = .interrupted
            nodes[index].endedAt = time
            nodes[index].crashedAttempts &+= 1
            nodes[index].attemptOpen = false
        case .nodeReset:
            guard let index else { break }
            // A finished workflow with a node set back to pending has work again.
            if status.isFinished { status = .pending }
            nodes[index].status = .pending
            nodes[index].startedAt = nil
            nodes[index].endedAt = nil
            nodes[index].lastError = nil
            nodes[index].output = nil
            nodes[index].resetBudget()
            recoveries = 0
            reason = nil
        }
        lastSequence = event.sequence
        updatedAt = time
    }

    /// Checks everything ``apply(_:)-(WorkflowEvent)`` checks, as if the state's last event were `previous`,
    /// without changing anything; returns the index of the node the event names, if any.
    /// Stores call it before writing events, so nothing is ever journaled that cannot be replayed.
    @discardableResult
    public func check(_ event: WorkflowEvent, following previous: UInt64) throws(FlowError) -> Int? {
        guard previous < UInt64(Int64.max), event.sequence == previous &+ 1 else {
            throw FlowError(
                .corruptData, "workflow \(id): event \(event.sequence) does not follow event \(previous)")
        }
        guard let name = event.node else { return nil }
        let hint = Int(event.nodeIndex)
        if hint >= 0, hint < nodes.count, nodes[hint].name == name { return hint }
        if let index = index(ofNode: name) { return index }
        throw FlowError(
            .corruptData,
            "workflow \(id): event \(event.sequence) (\(event.kind)) names unknown node \(Names.quoted(name))")
    }

    /// Applies events in order.
    public mutating func apply<S: Sequence<WorkflowEvent>>(_ events: S) throws(FlowError) {
        for event in events { try apply(event) }
    }
}

extension Sequence<WorkflowEvent> {
    /// The node every node event here names, when they all name the same one (the node an error
    /// about writing these events is about); nil for none or several.
    var soleNode: String? {
        var found: String?
        for event in self {
            guard let node = event.node else { continue }
            if let found, found != node { return nil }
            found = node
        }
        return found
    }
}
