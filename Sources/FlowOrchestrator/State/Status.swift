import Foundation

/// Where a node stands. The raw values are the on-disk encoding (Schemas/common.fbs); values
/// are only ever appended, and a stored value this version does not know is a `newerFormat`
/// error, never a guess.
///
/// Which statuses this version produces, and which are given their behaviour by the runtime and
/// control-flow work that builds on it, is listed per case.
public enum NodeStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Not started yet (or reset).
    case pending = 0
    /// Started and not finished. Found on load, it means the process died under the node: the
    /// attempt counts against the node's retry budget (see ``RetryPolicy/maxAttempts``).
    case running = 1
    /// Finished successfully; never run again unless reset.
    case completed = 2
    /// Finished with an error after its last attempt (or its retry budget ran out); stays
    /// failed until reset.
    case failed = 3
    /// Not run because a dependency failed.
    case skipped = 4
    /// Stopped before it finished because the run stopped: a node failed under the fail-fast
    /// policy, or the workflow's cancellation was asked for. Reconsidered by a later run.
    case cancelled = 5
    /// Parked until something outside the run happens: a durable timer, a signal, an approval,
    /// a child workflow. Produced by the control-flow primitives (issue 15); not yet by this
    /// version, which runs such a node again on resume.
    case waiting = 6
    /// Not run because its condition did not hold (or a need it joins on was bypassed), as
    /// opposed to `skipped`, which says that an upstream failed. Produced by conditions
    /// (issue 15); this version treats it as done, like `completed` without an output.
    case bypassed = 7
    /// In flight when the running process was interrupted (the task running
    /// ``Workflow/execute(input:definition:)`` was cancelled, as flowctl does on SIGINT and
    /// SIGTERM). The next run starts it again; the interrupted attempt does not count against
    /// its retry budget.
    case interrupted = 8
    /// Completed, then undone by its compensating action during a rollback (issue 15).
    case compensated = 9
    /// Completed, then its compensating action failed during a rollback (issue 15).
    case compensationFailed = 10

    /// Whether the node has reached an end state: anything but pending, running, waiting and
    /// interrupted.
    public var isFinished: Bool {
        switch self {
        case .pending, .running, .waiting, .interrupted: false
        case .completed, .failed, .skipped, .cancelled, .bypassed, .compensated, .compensationFailed: true
        }
    }

    public var description: String {
        switch self {
        case .pending: "pending"
        case .running: "running"
        case .completed: "completed"
        case .failed: "failed"
        case .skipped: "skipped"
        case .cancelled: "cancelled"
        case .waiting: "waiting"
        case .bypassed: "bypassed"
        case .interrupted: "interrupted"
        case .compensated: "compensated"
        case .compensationFailed: "compensation_failed"
        }
    }

    /// Parses the lowercase name `description` prints.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// Where a workflow stands. The raw values are the on-disk encoding (Schemas/common.fbs); values
/// are only ever appended, and a stored value this version does not know is a `newerFormat`
/// error.
public enum WorkflowStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Created, never run.
    case pending = 0
    /// A run is under way, or the process died during one (a later run recovers it; see
    /// ``ExecutionOptions/recoveryLimit``).
    case running = 1
    /// Every node completed (or was bypassed).
    case completed = 2
    /// At least one node failed (or was left unrun because of a failure), or the run was
    /// stopped for a reason stored with the state (``WorkflowState/reason``), such as the
    /// recovery limit.
    case failed = 3
    /// Cancelled because a caller asked for it (``Workflow/cancel(reason:)``, or a
    /// ``CancellationRequest`` given to the run). Final: a later run refuses it with
    /// `cancelled` until the workflow is reset.
    case cancelled = 4
    /// Parked on a timer, a signal or a child workflow, holding no worker and no lock; the
    /// runtime wakes it (issues 14 and 15). Not produced by this version yet.
    case waiting = 5
    /// The running process was interrupted (task cancellation of
    /// ``Workflow/execute(input:definition:)``: flowctl's SIGINT and SIGTERM). Not an end: the
    /// next run resumes it, as it resumes a crashed one.
    case interrupted = 6
    /// Failed or cancelled, then rolled back: every compensation ran (issue 15).
    case compensated = 7
    /// Failed or cancelled, and a compensation failed during the rollback (issue 15).
    case compensationFailed = 8

    /// Whether the workflow ended: completed, failed, cancelled, compensated or
    /// compensation_failed.
    public var isFinished: Bool {
        switch self {
        case .pending, .running, .waiting, .interrupted: false
        case .completed, .failed, .cancelled, .compensated, .compensationFailed: true
        }
    }

    public var description: String {
        switch self {
        case .pending: "pending"
        case .running: "running"
        case .completed: "completed"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .waiting: "waiting"
        case .interrupted: "interrupted"
        case .compensated: "compensated"
        case .compensationFailed: "compensation_failed"
        }
    }

    /// Parses the lowercase name `description` prints.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// Statuses are coded as their raw values; a value this version does not know is a
/// `newerFormat` ``FlowError`` (thrown as is through the decoder), never `corruptData`.
extension NodeStatus: Codable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(UInt8.self)
        guard let status = NodeStatus(rawValue: raw) else {
            throw FlowError(
                .newerFormat, "node status \(raw) is unknown to this version (written by a newer one?)")
        }
        self = status
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension WorkflowStatus: Codable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(UInt8.self)
        guard let status = WorkflowStatus(rawValue: raw) else {
            throw FlowError(
                .newerFormat, "workflow status \(raw) is unknown to this version (written by a newer one?)")
        }
        self = status
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
