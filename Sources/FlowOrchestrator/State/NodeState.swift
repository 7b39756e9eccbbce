import Foundation

/// The recorded state of one node.
public struct NodeState: Sendable, Equatable, Codable {
    /// The node's name, unique in its workflow.
    public var name: String
    /// Where the node stands.
    public var status: NodeStatus
    /// How many times the node was started, over all runs. A start cut short by a crash counts
    /// when its record was made durable before the crash (see docs/adr/0002).
    public var attempts: UInt32
    /// When the latest attempt started.
    public var startedAt: Date?
    /// When the node last reached an end state.
    public var endedAt: Date?
    /// The error of the latest failed attempt.
    public var lastError: String?
    /// What the node returned; nil until it completes. An empty output is not the same as none.
    public var output: Data?

    /// A pending node that has never run.
    public init(name: String) {
        self.name = name
        self.status = .pending
        self.attempts = 0
    }

    /// A node state with every field given.
    public init(
        name: String, status: NodeStatus, attempts: UInt32, startedAt: Date?, endedAt: Date?,
        lastError: String?, output: Data?
    ) {
        self.name = name
        self.status = status
        self.attempts = attempts
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.lastError = lastError
        self.output = output
    }
}
