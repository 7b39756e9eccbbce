import Foundation
import Logging

/// One run of a workflow: schedules the nodes, records every change as an event and persists
/// the events as the strategy says.
///
/// Worker tasks (as many as the concurrency bound) take ready nodes from a queue and run them;
/// all shared bookkeeping sits behind one mutex that is never held across an `await`.
///
/// With the `node` strategy on a journaling store, a completion is synced when something needs
/// it, not at once: its dependents are released only when a commit covers it, and a commit is
/// made when a worker would otherwise wait (no ready node, or an idle worker), when the run
/// ends, or when the oldest unsynced completion has waited ``maxSyncDelay``. While other nodes
/// are ready, workers go on running them, and one `fdatasync` covers every completion made
/// meanwhile. The completion itself is written (unsynced) with the next write: usually the next
/// node's start, at the latest the timer's commit. A process crash before then makes the node
/// run again on resume, which at-least-once execution allows (ADR 4).
final class RunCoordinator: Sendable {
    private enum Outcome {
        case completed(Data)
        case failed(String)
        case cancelled(attempt: UInt32)
    }

    private enum WorkerExit { case drained, stop }

    /// The longest a completion waits for its sync when no dependent needs it yet.
    static let maxSyncDelay: Duration = .milliseconds(50)

    private struct Shared {
        var state: WorkflowState
        /// Per node: dependencies that have not completed yet.
        var remaining: [Int32]
        /// Per node: part of this run and not ended yet.
        var active: [Bool]
        /// Per level: active nodes not ended yet.
        var levelRemaining: [Int]
        var currentLevel = 0
        var nextLevelToPush = 0
        var unfinished = 0
        var failFastTriggered = false
        var stopped = false
        /// Events not yet taken by the persister (journaling stores only).
        var pending: [WorkflowEvent] = []
        var metrics = ExecutionMetrics()
        var persistFailure: FlowError?
        /// Completed nodes whose dependents wait for a commit covering their end: the sequence
        /// number of the end, the node and when it ended, oldest first.
        var unreleased: [(sequence: UInt64, index: Int, ended: ContinuousClock.Instant)] = []
        /// Workers waiting for the queue.
        var idleWorkers = 0
    }

    let key: WorkflowKey
    let input: Data
    private let dag: DAG
    private let options: ExecutionOptions
    private let logger: Logger
    private let dependencies: [[Int]]
    private let dependents: [[Int]]
    private let levels: [[Int]]
    private let levelOf: [Int]
    private let journaling: Bool
    /// Whether completions may wait for a later commit (see the type's discussion).
    private let deferredSync: Bool
    private let shared: Locked<Shared>
    private let queue = ReadyQueue()
    private let persister: Persister

    /// Prepares a run of `dag` over `state`, which holds the nodes in the DAG's order and is
    /// durable up to its last sequence number (unless the strategy is `end`).
    init(
        key: WorkflowKey, dag: DAG, state: WorkflowState, store: any WorkflowStore, writer: any WorkflowWriter,
        options: ExecutionOptions, logger: Logger
    ) {
        self.key = key
        self.input = state.input
        self.dag = dag
        self.options = options
        var logger = logger
        logger[metadataKey: "workflow"] = "\(key)"
        self.logger = logger
        self.dependencies = dag.dependencyIndices
        self.dependents = dag.dependentIndices()
        self.levels = dag.levelIndices()
        var levelOf = [Int](repeating: 0, count: dag.count)
        for (level, members) in levels.enumerated() {
            for index in members { levelOf[index] = level }
        }
        self.levelOf = levelOf
        let journaling = options.persistence == .node && store.supportsJournal
        self.journaling = journaling
        // Dependency scheduling only: level scheduling releases a whole level at once.
        self.deferredSync = journaling && options.scheduling == .dependencies
        let shared = Locked(
            Shared(
                state: state,
                remaining: [Int32](repeating: 0, count: dag.count),
                active: [Bool](repeating: false, count: dag.count),
                levelRemaining: [Int](repeating: 0, count: levels.count)))
        self.shared = shared
        let durability = options.durability
        self.persister = Persister(
            durable: state.lastSequence, describe: "workflow \(key)",
            take: {
                shared.withLock { shared in
                    if journaling {
                        defer { shared.pending.removeAll(keepingCapacity: true) }
                        return (.events(shared.pending), shared.state.lastSequence)
                    }
                    return (.snapshot(shared.state), shared.state.lastSequence)
                }
            },
            write: { batch, sync in
                let clock = ContinuousClock()
                let started = clock.now
                switch batch {
                case .events(let events):
                    try await writer.append(events, durability: sync ? durability : .buffered)
                case .snapshot(let state):
                    try await writer.save(state, durability: durability)
                }
                let elapsed = clock.now - started
                shared.withLock { shared in
                    shared.metrics.storeWrites += 1
                    shared.metrics.persistDuration += elapsed
                }
            })
    }

    // MARK: Running

    /// Runs every node that needs running and returns the final state, persisted.
    func run() async throws -> ExecutionResult {
        let clock = ContinuousClock()
        let started = clock.now
        let workers = shared.withLock { shared in
            emit(&shared, .workflowStarted, workflowStatus: .running)
            prepare(&shared)
            startInitialNodes(&shared)
            return min(options.maxConcurrency, shared.unfinished)
        }
        logger.info("workflow started", metadata: ["nodes": "\(dag.count)", "to_run": "\(workers)"])
        if workers > 0 {
            await withTaskGroup(of: WorkerExit?.self) { group in
                for _ in 0..<workers {
                    group.addTask { await self.worker() }
                }
                if deferredSync {
                    group.addTask { await self.syncLateCompletions() }
                }
                var running = workers
                for await exit in group {
                    if exit == .stop {
                        queue.close()
                        group.cancelAll()
                    }
                    if exit != nil {
                        running -= 1
                        // The workers are done: stop the timer task too.
                        if running == 0 { group.cancelAll() }
                    }
                }
            }
        }
        var result = try await conclude()
        result.metrics.duration = clock.now - started
        return result
    }

    /// Decides, in topological order, which nodes this run handles: those not completed or
    /// failed before, less those blocked by a failed dependency (recorded `skipped`).
    private func prepare(_ shared: inout Shared) {
        let hadFailure = shared.state.nodes.contains { $0.status == .failed }
        if hadFailure, options.failurePolicy == .failFast { return }
        var blockedBy = [Int?](repeating: nil, count: dag.count)
        for level in levels {
            for index in level {
                switch shared.state.nodes[index].status {
                case .completed:
                    shared.metrics.nodesAlreadyCompleted += 1
                    continue
                case .failed:
                    blockedBy[index] = index
                    continue
                default:
                    break
                }
                if let blocker = dependencies[index].lazy.compactMap({ blockedBy[$0] }).first {
                    blockedBy[index] = blocker
                    emit(&shared, .nodeSkipped, node: index, error: skipReason(blocker))
                    shared.metrics.nodesSkipped += 1
                    continue
                }
                shared.active[index] = true
                shared.remaining[index] = Int32(
                    dependencies[index].count { shared.state.nodes[$0].status != .completed })
                shared.unfinished += 1
                shared.levelRemaining[levelOf[index]] += 1
            }
        }
    }

    private func startInitialNodes(_ shared: inout Shared) {
        if shared.unfinished == 0 {
            queue.close()
            return
        }
        switch options.scheduling {
        case .levels:
            advanceLevels(&shared)
        case .dependencies:
            queue.push(shared.active.indices.filter { shared.active[$0] && shared.remaining[$0] == 0 })
        }
    }

    private func worker() async -> WorkerExit {
        while let index = await nextNode() {
            if Task.isCancelled { return .stop }
            let outcome = await attempt(index)
            if await finish(index, outcome) == .stop { return .stop }
        }
        return shared.withLock { $0.persistFailure == nil } ? .drained : .stop
    }

    /// The next node to run, or nil when the queue is closed or a commit failed. With no node
    /// ready but completions waiting for their sync, commits them first (their dependents may
    /// be the next nodes).
    private func nextNode() async -> Int? {
        enum Step {
            case run(Int)
            case commit(UInt64)
            case wait
        }
        while true {
            let step: Step = shared.withLock { shared in
                if let index = queue.take() { return .run(index) }
                if !shared.unreleased.isEmpty { return .commit(shared.state.lastSequence) }
                // Counted under the lock that `finish` decides under: a completion made after
                // this sees an idle worker and is committed at once.
                shared.idleWorkers += 1
                return .wait
            }
            switch step {
            case .run(let index):
                return index
            case .commit(let sequence):
                guard await commitAndRelease(upTo: sequence) else { return nil }
            case .wait:
                let index = await queue.next()
                shared.withLock { $0.idleWorkers -= 1 }
                return index
            }
        }
    }

    /// Commits everything up to `sequence`, then releases the dependents of every completion the
    /// commit covered. Returns false (and records the failure) when the commit fails.
    private func commitAndRelease(upTo sequence: UInt64) async -> Bool {
        do {
            try await persister.commit(upTo: sequence)
        } catch {
            shared.withLock { $0.persistFailure = $0.persistFailure ?? error }
            logger.error("persistence failed; the run stops", metadata: ["error": "\(error.message)"])
            return false
        }
        let durable = persister.durableSequence
        shared.withLock { shared in
            releaseCommitted(upTo: durable, &shared)
            if shared.unfinished == 0 { queue.close() }
        }
        return true
    }

    /// Commits completions that have waited ``maxSyncDelay`` for a dependent to need them, so
    /// that no end stays unsynced for long while the workers run long nodes. Ends when cancelled.
    private func syncLateCompletions() async -> WorkerExit? {
        let clock = ContinuousClock()
        while true {
            let wait = shared.withLock { shared in
                shared.unreleased.first.map { $0.ended + Self.maxSyncDelay - clock.now } ?? Self.maxSyncDelay
            }
            if wait > .zero {
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    return nil
                }
            }
            let sequence: UInt64? = shared.withLock { shared in
                guard let oldest = shared.unreleased.first, clock.now - oldest.ended >= Self.maxSyncDelay else {
                    return nil
                }
                return shared.state.lastSequence
            }
            if let sequence, !(await commitAndRelease(upTo: sequence)) {
                queue.close()
                return nil
            }
        }
    }

    /// Runs node `index` until it completes, fails for good or is cancelled.
    private func attempt(_ index: Int) async -> Outcome {
        let node = dag.nodes[index]
        var failures = 0
        while true {
            let (attempt, sequence) = shared.withLock { shared in
                let attempt = shared.state.nodes[index].attempts &+ 1
                emit(&shared, .nodeStarted, node: index, attempt: attempt)
                shared.metrics.attemptsStarted += 1
                return (attempt, shared.state.lastSequence)
            }
            // The start reaches the journal now (unsynced; the next commit syncs it), so a
            // follower sees it at once and a crash mid-action usually finds the node running.
            if journaling { await persister.publish(upTo: sequence) }
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = "\(node.name)"
            let context = NodeContext(
                workflowID: key.id, tenant: key.tenant, node: node.name, attempt: Int(attempt),
                idempotencyKey: "\(key.tenant)/\(key.id)/\(node.name)", logger: nodeLogger,
                coordinator: self)
            let error: any Error
            do {
                let output = try await invoke(node, context)
                do {
                    try PayloadLimits.check(
                        output.bytes.count, limit: options.limits.maxOutputBytes,
                        what: "output of node \(Names.quoted(node.name))")
                } catch {
                    return .failed(error.message)
                }
                return .completed(output.bytes)
            } catch let thrown {
                error = thrown
            }
            if Task.isCancelled || error is CancellationError { return .cancelled(attempt: attempt) }
            failures += 1
            let message = Self.describe(error)
            guard failures < node.retry.maxAttempts, node.retry.shouldRetry(error) else {
                return .failed(message)
            }
            let delay = node.retry.backoff(beforeRetry: failures, random: Double.random(in: 0..<1))
            shared.withLock { shared in
                emit(
                    &shared, .nodeRetried, node: index, attempt: attempt, error: message,
                    delayMicroseconds: delay.microseconds)
                shared.metrics.retries += 1
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return .cancelled(attempt: 0)
            }
        }
    }

    /// Calls the node's action, racing it against its timeout when it has one.
    private func invoke(_ node: DAG.Node, _ context: NodeContext) async throws -> NodeOutput {
        guard let timeout = node.timeout else { return try await node.action(context) }
        return try await withThrowingTaskGroup(of: NodeOutput?.self) { group in
            group.addTask { try await node.action(context) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            if let output = try await group.next() ?? nil { return output }
            throw FlowError(.timeout, "node \(Names.quoted(node.name)) timed out after \(timeout)")
        }
    }

    /// Records how node `index` ended, makes it durable as the strategy says, then lets the
    /// nodes that waited for it start.
    private func finish(_ index: Int, _ outcome: Outcome) async -> WorkerExit {
        let (sequence, levelDone, deferred) = shared.withLock { shared in
            switch outcome {
            case .completed(let output):
                emit(&shared, .nodeCompleted, node: index, payload: output)
                shared.metrics.nodesCompleted += 1
            case .failed(let message):
                emit(&shared, .nodeFailed, node: index, error: message)
                shared.metrics.nodesFailed += 1
                logger.warning("node failed", metadata: ["node": "\(dag.nodes[index].name)", "error": "\(message)"])
                if options.failurePolicy == .failFast {
                    shared.failFastTriggered = true
                } else {
                    skipDescendants(of: index, &shared)
                }
            case .cancelled(let attempt):
                // Stopped by fail-fast: cancelled; by the task's cancellation: interrupted.
                if shared.failFastTriggered {
                    emit(&shared, .nodeCancelled, node: index)
                } else {
                    emit(&shared, .nodeInterrupted, node: index, attempt: attempt)
                }
                shared.metrics.nodesCancelled += 1
            }
            let levelDone = markEnded(index, &shared)
            // Nothing needs this completion synced yet while other nodes are ready and no
            // worker waits: its dependents are released by a later commit.
            if deferredSync, case .completed = outcome, !queue.isEmpty, shared.idleWorkers == 0 {
                shared.unreleased.append((shared.state.lastSequence, index, .now))
                return (shared.state.lastSequence, levelDone, true)
            }
            return (shared.state.lastSequence, levelDone, false)
        }
        if deferred { return .drained }
        let checkpoint =
            options.persistence == .node || (options.persistence == .level && levelDone)
        if checkpoint {
            do {
                try await persister.commit(upTo: sequence)
            } catch {
                shared.withLock { $0.persistFailure = $0.persistFailure ?? error }
                logger.error("persistence failed; the run stops", metadata: ["error": "\(error.message)"])
                return .stop
            }
        }
        let durable = persister.durableSequence
        return shared.withLock { shared in
            if shared.failFastTriggered { return .stop }
            if case .cancelled = outcome { return .stop }
            if case .completed = outcome { release(index, &shared) }
            // The commit covered the completions waiting for one too.
            releaseCommitted(upTo: durable, &shared)
            if options.scheduling == .levels { advanceLevels(&shared) }
            if shared.unfinished == 0 { queue.close() }
            return .drained
        }
    }

    /// Lets the nodes that waited for completed node `index` start (dependency scheduling;
    /// level scheduling starts whole levels in ``advanceLevels(_:)``).
    private func release(_ index: Int, _ shared: inout Shared) {
        guard options.scheduling == .dependencies else { return }
        var ready: [Int] = []
        for dependent in dependents[index] where shared.active[dependent] {
            shared.remaining[dependent] -= 1
            if shared.remaining[dependent] == 0 { ready.append(dependent) }
        }
        queue.push(ready)
    }

    /// Releases every waiting completion whose end is durable (sequence up to `durable`).
    private func releaseCommitted(upTo durable: UInt64, _ shared: inout Shared) {
        guard let first = shared.unreleased.first, first.sequence <= durable else { return }
        let covered = shared.unreleased.prefix { $0.sequence <= durable }
        shared.unreleased.removeFirst(covered.count)
        for entry in covered { release(entry.index, &shared) }
    }

    /// Pushes the next level once every active node of the levels before it has ended.
    private func advanceLevels(_ shared: inout Shared) {
        while shared.currentLevel < levels.count, shared.levelRemaining[shared.currentLevel] == 0 {
            shared.currentLevel += 1
        }
        guard shared.currentLevel < levels.count, shared.nextLevelToPush <= shared.currentLevel else { return }
        let level = shared.currentLevel
        shared.nextLevelToPush = level + 1
        queue.push(levels[level].filter { shared.active[$0] })
    }

    /// Records the end of node `index`; returns whether it was the last of its level.
    private func markEnded(_ index: Int, _ shared: inout Shared) -> Bool {
        shared.active[index] = false
        shared.unfinished -= 1
        shared.levelRemaining[levelOf[index]] -= 1
        return shared.levelRemaining[levelOf[index]] == 0
    }

    private func skipDescendants(of failed: Int, _ shared: inout Shared) {
        var stack = dependents[failed]
        let reason = skipReason(failed)
        while let next = stack.popLast() {
            guard shared.active[next] else { continue }
            emit(&shared, .nodeSkipped, node: next, error: reason)
            shared.metrics.nodesSkipped += 1
            _ = markEnded(next, &shared)
            stack.append(contentsOf: dependents[next])
        }
    }

    private func skipReason(_ failed: Int) -> String {
        "dependency \(Names.quoted(dag.nodes[failed].name)) failed"
    }

    /// Records how the run ended and persists it.
    private func conclude() async throws -> ExecutionResult {
        if let failure = shared.withLock({ $0.persistFailure }) { throw failure }
        let sequence = shared.withLock { shared in
            let nodes = shared.state.nodes
            let status: WorkflowStatus =
                if nodes.contains(where: { $0.status == .failed }) {
                    .failed
                } else if nodes.allSatisfy({ $0.status == .completed }) {
                    .completed
                } else {
                    .interrupted
                }
            emit(&shared, .workflowFinished, workflowStatus: status)
            logger.info("workflow finished", metadata: ["status": "\(status)"])
            return shared.state.lastSequence
        }
        try await persister.commit(upTo: sequence)
        return shared.withLock { ExecutionResult(state: $0.state, metrics: $0.metrics) }
    }

    // MARK: Events

    /// Creates the next event, applies it to the state and queues it for the journal.
    private func emit(
        _ shared: inout Shared, _ kind: WorkflowEvent.Kind, node: Int? = nil, attempt: UInt32 = 0,
        workflowStatus: WorkflowStatus? = nil, error: String? = nil, key: String? = nil,
        payload: Data? = nil, delayMicroseconds: Int64 = 0
    ) {
        let event = WorkflowEvent(
            sequence: shared.state.lastSequence &+ 1, time: .nowMicroseconds(), kind: kind,
            node: node.map { dag.nodes[$0].name }, nodeIndex: node.map(Int32.init) ?? -1,
            attempt: attempt, workflowStatus: workflowStatus, error: error, key: key,
            payload: payload, delayMicroseconds: delayMicroseconds)
        do {
            try shared.state.apply(event)
        } catch {
            // Events made here always follow the state; reaching this is a bug, not bad data.
            assertionFailure("\(error)")
            logger.error("internal error applying an event", metadata: ["error": "\(error.message)"])
            return
        }
        if journaling { shared.pending.append(event) }
        shared.metrics.events += 1
        logger.debug(
            "event", metadata: ["seq": "\(event.sequence)", "kind": "\(kind)", "node": "\(event.node ?? "")"])
        options.onEvent?(event)
    }

    // MARK: Node context

    func output(of name: String) throws(FlowError) -> Data? {
        guard let index = dag.index(of: name) else {
            throw FlowError(.unknownNode, "workflow \(key) has no node \(Names.quoted(name))")
        }
        return shared.withLock { shared in
            let node = shared.state.nodes[index]
            return node.status == .completed ? (node.output ?? Data()) : nil
        }
    }

    func value(forKey key: String) -> Data? {
        shared.withLock { $0.state.data[key] }
    }

    func setValue(_ value: Data?, forKey key: String) async throws {
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw FlowError(.invalidArgument, "workflow \(self.key): a data key must be 1 to 1024 bytes long")
        }
        try PayloadLimits.check(
            value?.count ?? 0, limit: options.limits.maxDataValueBytes,
            what: "workflow \(self.key): data value \(Names.quoted(key))")
        let sequence = shared.withLock { shared in
            emit(&shared, .dataSet, key: key, payload: value)
            return shared.state.lastSequence
        }
        if options.persistence == .node { try await persister.commit(upTo: sequence) }
    }

    static func describe(_ error: any Error) -> String {
        let text = (error as? FlowError)?.description ?? String(describing: error)
        let limit = 16 << 10
        guard text.utf8.count > limit else { return text }
        let kept = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
        return kept + "… (\(text.utf8.count - limit) more bytes not stored)"
    }
}

extension Error {
    /// The one-line message of a ``FlowError``, or the error's description.
    var message: String { (self as? FlowError)?.message ?? String(describing: self) }
}
