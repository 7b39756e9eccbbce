/// The scheduling bookkeeping of one run, as a value: which nodes the run handles, which are
/// ready, what an end releases, and which nodes a failure leaves unrun.
///
/// It knows nothing of tasks, events or the store: ``RunCoordinator`` asks it what to do and
/// carries it out (records the events, pushes ready nodes to the workers). Every method runs in
/// time proportional to the nodes it touches, so the coordinator calls them under its lock.
struct Schedule: Sendable {
    /// Per node: the nodes it depends on.
    let dependencies: [[Int]]
    /// Per node: the nodes that depend on it.
    let dependents: [[Int]]
    /// The topological levels, in the DAG's order within a level.
    let levels: [[Int]]
    /// Per node: its level.
    let levelOf: [Int]
    /// Whether a node starts when its own dependencies have completed (true), or when the
    /// whole previous level has ended (false).
    let byDependencies: Bool

    /// Per node: dependencies that have not completed yet.
    private(set) var remaining: [Int32]
    /// Per node: part of this run and not ended yet.
    private(set) var active: [Bool]
    /// Per level: active nodes not ended yet.
    private var levelRemaining: [Int]
    private var currentLevel = 0
    private var nextLevelToPush = 0
    /// Active nodes not ended yet.
    private(set) var unfinished = 0

    /// What ``prepare(statuses:failFast:)`` decided.
    struct Preparation: Equatable {
        /// Nodes found completed (not run again).
        var alreadyCompleted = 0
        /// Nodes left unrun because a dependency failed, each with the failed node that blocks it,
        /// in topological order.
        var skipped: [(node: Int, blocker: Int)] = []

        static func == (a: Preparation, b: Preparation) -> Bool {
            a.alreadyCompleted == b.alreadyCompleted && a.skipped.map(\.node) == b.skipped.map(\.node)
                && a.skipped.map(\.blocker) == b.skipped.map(\.blocker)
        }
    }

    /// A schedule of `dag` with nothing active yet.
    init(dag: DAG, scheduling: Scheduling) {
        self.init(
            dependencies: dag.dependencyIndices, dependents: dag.dependentIndices(), levels: dag.levelIndices(),
            scheduling: scheduling)
    }

    /// A schedule of the graph the arrays describe (`levels` in topological order).
    init(dependencies: [[Int]], dependents: [[Int]], levels: [[Int]], scheduling: Scheduling) {
        self.dependencies = dependencies
        self.dependents = dependents
        self.levels = levels
        var levelOf = [Int](repeating: 0, count: dependencies.count)
        for (level, members) in levels.enumerated() {
            for index in members { levelOf[index] = level }
        }
        self.levelOf = levelOf
        self.byDependencies = scheduling == .dependencies
        remaining = [Int32](repeating: 0, count: dependencies.count)
        active = [Bool](repeating: false, count: dependencies.count)
        levelRemaining = [Int](repeating: 0, count: levels.count)
    }

    /// Decides, in topological order, which nodes this run handles: every node not done before
    /// (completed, bypassed, failed, compensated), less those blocked by a failed (or
    /// compensated) dependency, which are returned to be recorded `skipped`. With `failFast` and a failure already
    /// recorded, nothing runs.
    mutating func prepare(statuses: [NodeStatus], failFast: Bool) -> Preparation {
        var preparation = Preparation()
        if failFast, statuses.contains(.failed) { return preparation }
        var blockedBy = [Int?](repeating: nil, count: statuses.count)
        for level in levels {
            for index in level {
                switch statuses[index] {
                case .completed:
                    preparation.alreadyCompleted += 1
                    continue
                case .bypassed:
                    // An end a later issue gives its behaviour; never run again, and met.
                    continue
                case .failed, .compensated, .compensationFailed:
                    // Never run again, and never met: what depends on them is skipped.
                    blockedBy[index] = index
                    continue
                case .pending, .running, .skipped, .cancelled, .waiting, .interrupted:
                    break
                }
                if let blocker = dependencies[index].lazy.compactMap({ blockedBy[$0] }).first {
                    blockedBy[index] = blocker
                    preparation.skipped.append((index, blocker))
                    continue
                }
                active[index] = true
                remaining[index] = Int32(dependencies[index].count { !Self.satisfies(statuses[$0]) })
                unfinished += 1
                levelRemaining[levelOf[index]] += 1
            }
        }
        return preparation
    }

    /// Whether a dependency in `status` lets its dependents start.
    static func satisfies(_ status: NodeStatus) -> Bool {
        status == .completed || status == .bypassed
    }

    /// The nodes ready when the run starts.
    mutating func initialReady() -> [Int] {
        guard unfinished > 0 else { return [] }
        if !byDependencies { return advanceLevels() }
        return active.indices.filter { active[$0] && remaining[$0] == 0 }
    }

    /// Records the end of active node `index`; returns whether it was the last of its level.
    @discardableResult
    mutating func end(_ index: Int) -> Bool {
        precondition(active[index], "node \(index) ended twice")
        active[index] = false
        unfinished -= 1
        levelRemaining[levelOf[index]] -= 1
        return levelRemaining[levelOf[index]] == 0
    }

    /// The dependents that completed node `index` makes ready (dependency scheduling; level
    /// scheduling starts whole levels in ``advanceLevels()``).
    mutating func release(_ index: Int) -> [Int] {
        guard byDependencies else { return [] }
        var ready: [Int] = []
        for dependent in dependents[index] where active[dependent] {
            remaining[dependent] -= 1
            if remaining[dependent] == 0 { ready.append(dependent) }
        }
        return ready
    }

    /// The next level's active nodes, once every active node of the levels before it has ended
    /// (each level is returned once); empty otherwise.
    mutating func advanceLevels() -> [Int] {
        while currentLevel < levels.count, levelRemaining[currentLevel] == 0 {
            currentLevel += 1
        }
        guard currentLevel < levels.count, nextLevelToPush <= currentLevel else { return [] }
        let level = currentLevel
        nextLevelToPush = level + 1
        return levels[level].filter { active[$0] }
    }

    /// Ends every active node that depends, directly or not, on failed node `failed`, and
    /// returns them to be recorded `skipped`.
    mutating func skipDescendants(of failed: Int) -> [Int] {
        var skipped: [Int] = []
        var stack = dependents[failed]
        while let next = stack.popLast() {
            guard active[next] else { continue }
            skipped.append(next)
            end(next)
            stack.append(contentsOf: dependents[next])
        }
        return skipped
    }
}
