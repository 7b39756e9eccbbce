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
    /// Why the workflow has its status, when no node's error says it: for instance
    /// `recovery limit: ...` for a workflow failed because its runs kept crashing. Set by the
    /// `workflowFinished` event that carries one, cleared by the next `workflowStarted`.
    public var reason: String?
    /// How many times a run recovered the workflow after a crash (found it `running`) since a
    /// node last completed; compared with ``ExecutionOptions/recoveryLimit``.
    public var recoveries: UInt32 = 0
    /// The DAG's shape (which node depends on which, as indices into ``nodes``), stored when
    /// ``Workflow/execute(input:definition:)`` creates or resumes the workflow, so that tools
    /// with only the store can draw and reset it; nil in a state stored before it was kept.
    public var shape: DAGShape?

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
        self.reason = nil
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, id, tenant, fingerprint, status, createdAt, updatedAt, lastSequence, input
        case definition, nodes, data, reason, recoveries, shape
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try container.decode(UInt32.self, forKey: .formatVersion)
        id = try container.decode(String.self, forKey: .id)
        tenant = try container.decode(String.self, forKey: .tenant)
        fingerprint = try container.decode(String.self, forKey: .fingerprint)
        status = try container.decode(WorkflowStatus.self, forKey: .status)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        updatedAt = try container.decode(Date.self, forKey: .updatedAt)
        lastSequence = try container.decode(UInt64.self, forKey: .lastSequence)
        input = try container.decode(Data.self, forKey: .input)
        definition = try container.decodeIfPresent(Data.self, forKey: .definition)
        nodes = try container.decode([NodeState].self, forKey: .nodes)
        data = try container.decode([String: Data].self, forKey: .data)
        // Added after the first release: absent in older files.
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        recoveries = try container.decodeIfPresent(UInt32.self, forKey: .recoveries) ?? 0
        shape = try container.decodeIfPresent(DAGShape.self, forKey: .shape)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(formatVersion, forKey: .formatVersion)
        try container.encode(id, forKey: .id)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(status, forKey: .status)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(lastSequence, forKey: .lastSequence)
        try container.encode(input, forKey: .input)
        try container.encodeIfPresent(definition, forKey: .definition)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(data, forKey: .data)
        try container.encodeIfPresent(reason, forKey: .reason)
        if recoveries != 0 { try container.encode(recoveries, forKey: .recoveries) }
        try container.encodeIfPresent(shape, forKey: .shape)
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
