/// The shape of a workflow's DAG without its actions: which node depends on which, as indices
/// into the node list (``WorkflowState/nodes``, the DAG's order).
///
/// ``Workflow/execute(input:definition:)`` stores it with the state, so a tool that has only
/// the store (flowctl's `graph` and `reset`) can draw and walk a workflow that a program started.
/// The edges are kept in one array, grouped by node in ascending order, each node's dependencies
/// in the order the DAG lists them.
public struct DAGShape: Sendable, Hashable {
    /// One dependency: node `node` needs node `dependency` (both indices into the node list).
    public struct Edge: Sendable, Hashable {
        /// The node that waits.
        public var node: Int
        /// The node it waits for.
        public var dependency: Int

        /// The edge "`node` depends on `dependency`".
        public init(node: Int, dependency: Int) {
            self.node = node
            self.dependency = dependency
        }
    }

    /// Every edge, grouped by ``Edge/node`` ascending.
    public private(set) var edges: [Edge]

    /// The shape of `dag`.
    public init(_ dag: DAG) {
        self.init(dependencies: dag.dependencyIndices)
    }

    /// A shape from each node's dependencies (`dependencies[i]`: the indices node `i` needs).
    init(dependencies: [[Int]]) {
        var edges: [Edge] = []
        edges.reserveCapacity(dependencies.reduce(0) { $0 + $1.count })
        for (node, needs) in dependencies.enumerated() {
            for dependency in needs { edges.append(Edge(node: node, dependency: dependency)) }
        }
        self.edges = edges
    }

    /// A shape from stored edges; check them with ``problem(nodeCount:)``.
    init(edges: [Edge]) {
        self.edges = edges
    }

    /// The indices of the nodes that node `index` depends on, in the DAG's order.
    public func dependencies(ofNode index: Int) -> [Int] {
        // The first edge of `index`'s group, found by bisection (edges are grouped by node).
        var low = 0
        var high = edges.count
        while low < high {
            let middle = (low + high) / 2
            if edges[middle].node < index { low = middle + 1 } else { high = middle }
        }
        var result: [Int] = []
        while low < edges.count, edges[low].node == index {
            result.append(edges[low].dependency)
            low += 1
        }
        return result
    }

    /// What is wrong with these edges for a DAG of `nodeCount` nodes, or nil when nothing is:
    /// an index past the last node, a node depending on itself, edges not grouped by node, an
    /// edge twice. (A cycle is found when a DAG is built from the shape.)
    func problem(nodeCount: Int) -> String? {
        var seenBy = [Int](repeating: -1, count: edges.isEmpty ? 0 : nodeCount)
        for (index, edge) in edges.enumerated() {
            let problem: String? =
                if !(0..<nodeCount).contains(edge.node) || !(0..<nodeCount).contains(edge.dependency) {
                    "names a node past the last"
                } else if edge.node == edge.dependency {
                    "makes a node depend on itself"
                } else if index > 0, edges[index - 1].node > edge.node {
                    "is out of order (edges are grouped by node, ascending)"
                } else if seenBy[edge.dependency] == edge.node {
                    "repeats an earlier edge"
                } else {
                    nil
                }
            if let problem {
                return "edge \(index) (\(edge.dependency) -> \(edge.node) of \(nodeCount) nodes) \(problem)"
            }
            seenBy[edge.dependency] = edge.node
        }
        return nil
    }
}

extension DAGShape: Codable {
    /// Encoded as an array of `[node, dependency]` pairs.
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var edges: [Edge] = []
        while !container.isAtEnd {
            var pair = try container.nestedUnkeyedContainer()
            let node = try pair.decode(Int.self)
            let dependency = try pair.decode(Int.self)
            guard pair.isAtEnd else {
                throw DecodingError.dataCorruptedError(in: pair, debugDescription: "an edge is a [node, dependency] pair")
            }
            edges.append(Edge(node: node, dependency: dependency))
        }
        self.edges = edges
    }

    /// Encodes the edges as an array of `[node, dependency]` pairs.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for edge in edges {
            var pair = container.nestedUnkeyedContainer()
            try pair.encode(edge.node)
            try pair.encode(edge.dependency)
        }
    }
}
