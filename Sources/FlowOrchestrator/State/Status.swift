/// Where a node stands. The raw values are the on-disk encoding.
public enum NodeStatus: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Not started yet (or reset).
    case pending = 0
    /// Started and not finished. Found on load, it means the process died under the node.
    case running = 1
    /// Finished successfully; never run again unless reset.
    case completed = 2
    /// Finished with an error after its last attempt.
    case failed = 3
    /// Not run because a dependency failed.
    case skipped = 4
    /// Stopped by cancellation before it finished.
    case cancelled = 5

    /// Whether the node has reached an end state in this run.
    public var isFinished: Bool { self != .pending && self != .running }

    public var description: String {
        switch self {
        case .pending: "pending"
        case .running: "running"
        case .completed: "completed"
        case .failed: "failed"
        case .skipped: "skipped"
        case .cancelled: "cancelled"
        }
    }

    /// Parses the lowercase name `description` prints.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// Where a workflow stands. The raw values are the on-disk encoding.
public enum WorkflowStatus: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Created, never run.
    case pending = 0
    /// A run is under way, or the process died during one.
    case running = 1
    /// Every node completed.
    case completed = 2
    /// At least one node failed (or was left unrun because of a failure).
    case failed = 3
    /// The run was cancelled.
    case cancelled = 4

    /// Whether the workflow ended (completed, failed or cancelled).
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }

    public var description: String {
        switch self {
        case .pending: "pending"
        case .running: "running"
        case .completed: "completed"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }

    /// Parses the lowercase name `description` prints.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}
