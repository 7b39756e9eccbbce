import Foundation

/// Everything stored about one workflow: what a snapshot holds.
///
/// The executor changes it only by applying ``WorkflowEvent``s, so a snapshot plus the events
/// journaled after it rebuild exactly the state the run had.
public struct WorkflowState: Sendable, Equatable, Codable {
    /// The version of the layout this value was written with.
    public static let currentFormatVersion: UInt32 = 1

    /// The layout version the state was read from (``currentFormatVersion`` for new states).
    public var formatVersion: UInt32
    /// The workflow's ID, unique in its tenant.
    public var id: String
    /// The tenant the workflow belongs to.
    public var tenant: String
    /// The fingerprint of the DAG the state was made for.
    public var fingerprint: String
    /// Where the workflow stands.
    public var status: WorkflowStatus
    /// When the workflow was first created.
    public var createdAt: Date
    /// When the state last changed.
    public var updatedAt: Date
    /// The sequence number of the last event applied.
    public var lastSequence: UInt64
    /// The workflow's input, readable by every node.
    public var input: Data
    /// An opaque description of the workflow (flowctl keeps its definition file here).
    public var definition: Data?
    /// One entry per node, in the DAG's order.
    public var nodes: [NodeState]
    /// The workflow's shared key-value data.
    public var data: [String: Data]

    /// A new pending workflow, created now unless `createdAt` says otherwise.
    public init(
        id: String, tenant: String, fingerprint: String, nodeNames: [String], input: Data = Data(),
        definition: Data? = nil, createdAt: Date? = nil
    ) {
        let createdAt = createdAt ?? .nowMicroseconds()
        self.formatVersion = Self.currentFormatVersion
        self.id = id
        self.tenant = tenant
        self.fingerprint = fingerprint
        self.status = .pending
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.lastSequence = 0
        self.input = input
        self.definition = definition
        self.nodes = nodeNames.map(NodeState.init(name:))
        self.data = [:]
    }

    /// The index of the node called `name`, if there is one.
    public func index(ofNode name: String) -> Int? {
        nodes.firstIndex { $0.name == name }
    }

    /// The state of the node called `name`, if there is one.
    public subscript(node name: String) -> NodeState? {
        index(ofNode: name).map { nodes[$0] }
    }

    /// How many nodes have each status.
    public var statusCounts: [NodeStatus: Int] {
        var tally = [Int](repeating: 0, count: NodeStatus.allCases.count)
        for node in nodes { tally[Int(node.status.rawValue)] += 1 }
        var counts: [NodeStatus: Int] = [:]
        for status in NodeStatus.allCases where tally[Int(status.rawValue)] > 0 {
            counts[status] = tally[Int(status.rawValue)]
        }
        return counts
    }
}
