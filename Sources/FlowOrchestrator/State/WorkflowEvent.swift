import Foundation

/// One change to a workflow's state: the unit of the journal and of the event history.
public struct WorkflowEvent: Sendable, Equatable, Codable {
    /// What happened. The raw values are the on-disk encoding.
    public enum Kind: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case workflowStarted = 0
        case nodeStarted = 1
        case nodeCompleted = 2
        case nodeFailed = 3
        case nodeRetried = 4
        case nodeSkipped = 5
        case nodeCancelled = 6
        case nodeReset = 7
        case dataSet = 8
        case workflowFinished = 9
        case nodeMarkedCompleted = 10
        /// A node in flight when its process was interrupted (task cancellation of the run);
        /// `attempt` is the attempt cut short, 0 when the node was waiting to retry. The attempt
        /// is given back to the node's retry budget; the node runs again on resume.
        case nodeInterrupted = 11
        /// Found at recovery: the node's attempt `attempt` was cut short by a crash of the
        /// process that ran it. The attempt stays counted against the node's retry budget.
        case nodeCrashed = 12

        public var description: String {
            switch self {
            case .workflowStarted: "workflow.started"
            case .nodeStarted: "node.started"
            case .nodeCompleted: "node.completed"
            case .nodeFailed: "node.failed"
            case .nodeRetried: "node.retried"
            case .nodeSkipped: "node.skipped"
            case .nodeCancelled: "node.cancelled"
            case .nodeReset: "node.reset"
            case .dataSet: "data.set"
            case .workflowFinished: "workflow.finished"
            case .nodeMarkedCompleted: "node.marked_completed"
            case .nodeInterrupted: "node.interrupted"
            case .nodeCrashed: "node.crashed"
            }
        }

        /// Whether events of this kind name a node.
        public var concernsNode: Bool {
            switch self {
            case .workflowStarted, .dataSet, .workflowFinished: false
            default: true
            }
        }
    }

    /// Position in the workflow's history, starting at 1 and without gaps.
    public var sequence: UInt64
    /// When it happened.
    public var time: Date
    /// What happened.
    public var kind: Kind
    /// The node it happened to, for node events.
    public var node: String?
    /// The node's position in the workflow, a hint that spares a name lookup; -1 when unknown.
    public var nodeIndex: Int32
    /// The attempt number, for `nodeStarted` and `nodeRetried`.
    public var attempt: UInt32
    /// The workflow's new status, for `workflowStarted` and `workflowFinished`.
    public var workflowStatus: WorkflowStatus?
    /// The error, for `nodeFailed`, `nodeRetried` and `nodeSkipped` (the reason); for
    /// `workflowFinished`, why the run ended so when no node's error says it (stored as
    /// ``WorkflowState/reason``).
    public var error: String?
    /// The key, for `dataSet`.
    public var key: String?
    /// The output (`nodeCompleted`, `nodeMarkedCompleted`) or value (`dataSet`; nil removes).
    public var payload: Data?
    /// The backoff before the next attempt, for `nodeRetried`, in microseconds.
    public var delayMicroseconds: Int64

    /// An event with every field given; unused fields keep their defaults.
    public init(
        sequence: UInt64, time: Date, kind: Kind, node: String? = nil, nodeIndex: Int32 = -1,
        attempt: UInt32 = 0, workflowStatus: WorkflowStatus? = nil, error: String? = nil,
        key: String? = nil, payload: Data? = nil, delayMicroseconds: Int64 = 0
    ) {
        self.sequence = sequence
        self.time = time
        self.kind = kind
        self.node = node
        self.nodeIndex = nodeIndex
        self.attempt = attempt
        self.workflowStatus = workflowStatus
        self.error = error
        self.key = key
        self.payload = payload
        self.delayMicroseconds = delayMicroseconds
    }
}

extension WorkflowState {
    /// Applies one event: the only way the executor changes a state.
    ///
    /// Throws `corruptData` when the event does not follow the last one applied or names a node
    /// the workflow does not have, so a damaged history is never half-applied silently.
    public mutating func apply(_ event: WorkflowEvent) throws(FlowError) {
        let index = try check(event, following: lastSequence)
        if let index {
            applyNodeEvent(event, at: index)
        } else {
            switch event.kind {
            case .workflowStarted:
                // Found running: the run before crashed, and this one recovers it.
                if status == .running { recoveries &+= 1 }
                if let status = event.workflowStatus { self.status = status }
            case .workflowFinished:
                if let status = event.workflowStatus { self.status = status }
                // A failed workflow run again without a change keeps the reason it failed for.
                reason = event.error ?? (status == .failed ? reason : nil)
            case .dataSet:
                if let key = event.key { data[key] = event.payload }
            default:
                break
            }
        }
        lastSequence = event.sequence
        updatedAt = event.time
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
        if event.kind.concernsNode { return try nodeIndex(for: event) }
        switch event.kind {
        case .workflowStarted, .workflowFinished:
            guard event.workflowStatus != nil else {
                throw FlowError(.corruptData, "workflow \(id): event \(event.sequence) (\(event.kind)) has no status")
            }
        case .dataSet:
            guard event.key != nil else {
                throw FlowError(.corruptData, "workflow \(id): event \(event.sequence) (data.set) has no key")
            }
        default:
            break
        }
        return nil
    }

    /// Applies events in order.
    public mutating func apply<S: Sequence<WorkflowEvent>>(_ events: S) throws(FlowError) {
        for event in events { try apply(event) }
    }

    private func nodeIndex(for event: WorkflowEvent) throws(FlowError) -> Int {
        let hint = Int(event.nodeIndex)
        if hint >= 0, hint < nodes.count, event.node == nil || nodes[hint].name == event.node {
            return hint
        }
        if let name = event.node, let index = index(ofNode: name) { return index }
        throw FlowError(
            .corruptData,
            "workflow \(id): event \(event.sequence) (\(event.kind)) names unknown node \(Names.quoted(event.node ?? "?"))")
    }

    private mutating func applyNodeEvent(_ event: WorkflowEvent, at index: Int) {
        let time = event.time
        switch event.kind {
        case .nodeStarted:
            nodes[index].status = .running
            nodes[index].attempts = event.attempt
            nodes[index].startedAt = time
            nodes[index].endedAt = nil
            nodes[index].countedAttempts &+= 1
            nodes[index].attemptOpen = true
        case .nodeCompleted, .nodeMarkedCompleted:
            nodes[index].status = .completed
            nodes[index].endedAt = time
            nodes[index].lastError = nil
            nodes[index].output = event.payload
            nodes[index].resetBudget()
            recoveries = 0
        case .nodeFailed:
            nodes[index].status = .failed
            nodes[index].endedAt = time
            nodes[index].lastError = event.error
            nodes[index].attemptOpen = false
        case .nodeRetried:
            nodes[index].lastError = event.error
            nodes[index].attemptOpen = false
        case .nodeSkipped:
            nodes[index].status = .skipped
            nodes[index].endedAt = time
            nodes[index].lastError = event.error
            nodes[index].attemptOpen = false
        case .nodeCancelled, .nodeInterrupted:
            nodes[index].status = event.kind == .nodeCancelled ? .cancelled : .interrupted
            nodes[index].endedAt = time
            // The attempt did not fail: it is given back to the retry budget.
            if nodes[index].attemptOpen, nodes[index].countedAttempts > 0 { nodes[index].countedAttempts -= 1 }
            nodes[index].attemptOpen = false
        case .nodeCrashed:
            nodes[index].status = .interrupted
            nodes[index].endedAt = time
            nodes[index].crashedAttempts &+= 1
            nodes[index].attemptOpen = false
        case .nodeReset:
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
        case .workflowStarted, .dataSet, .workflowFinished:
            break
        }
    }
}
