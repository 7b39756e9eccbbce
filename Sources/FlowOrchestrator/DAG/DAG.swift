/// A directed acyclic graph of named nodes, each with an async action.
///
/// Every way of building a DAG validates as it goes: a node name that breaks the naming rules
/// (those of ``WorkflowKey``: 1 to 200 bytes of UTF-8, no `/`, `\` or control character, no
/// leading dot), a duplicate name, a dependency on a node that does not exist and a cycle are
/// errors that name the nodes involved (a cycle error gives the cycle's path). A DAG value is
/// always valid.
public struct DAG: Sendable {
    /// What a node does. Its output is stored and readable by its dependents.
    public typealias Action = @Sendable (NodeContext) async throws -> NodeOutput

    /// One node: its name, what it needs, how it is run.
    public struct Node: Sendable {
        /// The node's unique name.
        public var name: String
        /// The names of the nodes that must complete before this one starts.
        public var dependencies: [String]
        /// How often the node is tried.
        public var retry: RetryPolicy
        /// How long one attempt may run; nil for no limit.
        public var timeout: Duration?
        /// What the node does.
        public var action: Action

        /// A node description, validated when it joins a DAG.
        public init(
            _ name: String, dependsOn dependencies: [String] = [], retry: RetryPolicy = .none,
            timeout: Duration? = nil, action: @escaping Action
        ) {
            self.name = name
            self.dependencies = dependencies
            self.retry = retry
            self.timeout = timeout
            self.action = action
        }
    }

    /// The nodes in the order they were added.
    public private(set) var nodes: [Node] = []
    /// Each node's dependencies as indices into `nodes`.
    private(set) var dependencyIndices: [[Int]] = []
    private var indexByName: [String: Int] = [:]

    /// An empty DAG.
    public init() {}

    /// A DAG of `nodes` given in any order; every problem is reported before any is accepted.
    public init(nodes: [Node]) throws(FlowError) {
        for node in nodes {
            try Names.validate(node.name, as: "node", code: .invalidName)
            guard indexByName[node.name] == nil else {
                throw FlowError(.duplicateNode, "node \(Names.quoted(node.name)) is defined twice")
            }
            indexByName[node.name] = self.nodes.count
            self.nodes.append(node)
        }
        for node in nodes {
            dependencyIndices.append(try resolve(node.dependencies, of: node.name))
        }
        if let cycle = findCycle() {
            throw Self.cycleError(cycle.map { self.nodes[$0].name })
        }
    }

    /// Adds a node whose dependencies are already in the DAG.
    public mutating func addNode(
        _ name: String, dependsOn dependencies: [String] = [], retry: RetryPolicy = .none,
        timeout: Duration? = nil, action: @escaping Action
    ) throws(FlowError) {
        try add(Node(name, dependsOn: dependencies, retry: retry, timeout: timeout, action: action))
    }

    /// Adds a node whose dependencies are already in the DAG.
    public mutating func add(_ node: Node) throws(FlowError) {
        try Names.validate(node.name, as: "node", code: .invalidName)
        guard indexByName[node.name] == nil else {
            throw FlowError(.duplicateNode, "node \(Names.quoted(node.name)) is already in the DAG")
        }
        let indices = try resolve(node.dependencies, of: node.name)
        indexByName[node.name] = nodes.count
        nodes.append(node)
        dependencyIndices.append(indices)
    }

    /// Makes `node` depend on `dependency`; throws, leaving the DAG unchanged, if that closes a cycle.
    public mutating func addDependency(_ node: String, on dependency: String) throws(FlowError) {
        guard let from = indexByName[node] else {
            throw FlowError(.unknownNode, "node \(Names.quoted(node)) is not in the DAG")
        }
        guard let to = indexByName[dependency] else {
            throw FlowError(
                .missingDependency,
                "node \(Names.quoted(node)) depends on \(Names.quoted(dependency)), which is not in the DAG")
        }
        if dependencyIndices[from].contains(to) { return }
        // A cycle appears if `dependency` already (transitively) depends on `node`.
        if let path = dependencyPath(from: to, to: from) {
            throw Self.cycleError([node] + path.map { nodes[$0].name })
        }
        dependencyIndices[from].append(to)
        nodes[from].dependencies.append(dependency)
    }

    /// The number of nodes.
    public var count: Int { nodes.count }

    /// The node names in the order they were added.
    public var nodeNames: [String] { nodes.map(\.name) }

    /// The node called `name`, if there is one.
    public subscript(name: String) -> Node? {
        indexByName[name].map { nodes[$0] }
    }

    /// The position of the node called `name`, if there is one.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// The nodes sorted into levels (Kahn's algorithm): a node's level is one past the deepest of
    /// its dependencies. Inside a level, nodes keep the order they were added in.
    public func levels() -> [[String]] {
        levelIndices().map { $0.map { nodes[$0].name } }
    }

    /// ``levels()`` as indices into ``nodes``.
    func levelIndices() -> [[Int]] {
        var remaining = dependencyIndices.map(\.count)
        let dependents = dependentIndices()
        var current = remaining.indices.filter { remaining[$0] == 0 }
        var levels: [[Int]] = []
        while !current.isEmpty {
            levels.append(current)
            var next: [Int] = []
            for index in current {
                for dependent in dependents[index] {
                    remaining[dependent] -= 1
                    if remaining[dependent] == 0 { next.append(dependent) }
                }
            }
            next.sort()
            current = next
        }
        return levels
    }

    /// For each node, the indices of the nodes that depend on it, ascending.
    func dependentIndices() -> [[Int]] {
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (index, dependencies) in dependencyIndices.enumerated() {
            for dependency in dependencies { dependents[dependency].append(index) }
        }
        return dependents
    }

    /// The indices of every node that depends on `index`, directly or not.
    func descendants(of index: Int) -> [Int] {
        let dependents = dependentIndices()
        var seen = Set<Int>()
        var stack = dependents[index]
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: dependents[next]) }
        }
        return seen.sorted()
    }

    /// A stable digest of the node names and dependencies; stored with a workflow's state so that
    /// resuming with a different DAG is caught.
    public var fingerprint: String {
        var hash = FNV1a64()
        for (index, node) in nodes.enumerated() {
            hash.add(node.name)
            hash.add(0)
            for dependency in dependencyIndices[index].sorted() {
                hash.add(nodes[dependency].name)
                hash.add(1)
            }
            hash.add(2)
        }
        return "fnv1a64:" + hash.hex
    }

    private func resolve(_ dependencies: [String], of name: String) throws(FlowError) -> [Int] {
        var indices: [Int] = []
        indices.reserveCapacity(dependencies.count)
        for dependency in dependencies {
            guard let index = indexByName[dependency] else {
                throw FlowError(
                    .missingDependency,
                    "node \(Names.quoted(name)) depends on \(Names.quoted(dependency)), which is not in the DAG")
            }
            if dependency == name {
                throw Self.cycleError([name, name])
            }
            if !indices.contains(index) { indices.append(index) }
        }
        return indices
    }

    /// A path of dependency edges from `start` to `goal` (both included), if there is one.
    private func dependencyPath(from start: Int, to goal: Int) -> [Int]? {
        var parent = [Int: Int]()
        var stack = [start]
        parent[start] = start
        while let current = stack.popLast() {
            if current == goal {
                var path = [goal]
                var step = goal
                while step != start {
                    step = parent[step]!
                    path.append(step)
                }
                return path.reversed()
            }
            for next in dependencyIndices[current] where parent[next] == nil {
                parent[next] = current
                stack.append(next)
            }
        }
        return nil
    }

    /// One cycle as a closed path of indices (first == last), found by iterative DFS.
    private func findCycle() -> [Int]? {
        enum Mark { case new, active, done }
        var marks = [Mark](repeating: .new, count: nodes.count)
        for root in nodes.indices where marks[root] == .new {
            var stack: [(node: Int, next: Int)] = [(root, 0)]
            marks[root] = .active
            while let top = stack.last {
                let edges = dependencyIndices[top.node]
                if top.next == edges.count {
                    marks[top.node] = .done
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let child = edges[top.next]
                switch marks[child] {
                case .new:
                    marks[child] = .active
                    stack.append((child, 0))
                case .active:
                    let start = stack.firstIndex { $0.node == child }!
                    return stack[start...].map(\.node) + [child]
                case .done:
                    break
                }
            }
        }
        return nil
    }

    private static func cycleError(_ path: [String]) -> FlowError {
        let text = path.map(Names.quoted).joined(separator: " -> ")
        return FlowError(.cycle, "dependency cycle: \(text) (each node needs the next)")
    }
}

/// 64-bit FNV-1a, for fingerprints (not for security).
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    mutating func add(_ string: String) {
        for byte in string.utf8 { add(byte) }
    }

    var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
