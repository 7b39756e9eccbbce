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
    private enum WorkerExit { case drained, stop }

    /// The longest a completion waits for its sync when no dependent needs it yet.
    static let maxSyncDelay: Duration = .milliseconds(50)

    private struct Shared {
        var state: WorkflowState
        /// Which nodes are ready and what an end releases.
        var schedule: Schedule
        var failFastTriggered = false
        /// The reason of a cancellation asked for (``ExecutionOptions/cancellation``).
        var cancelReason: String?
        /// Why the run failed the workflow without a node's error saying it (recovery limit).
        var failReason: String?
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
        let journaling = options.persistence == .node && store.supportsJournal
        self.journaling = journaling
        // Dependency scheduling only: level scheduling releases a whole level at once.
        self.deferredSync = journaling && options.scheduling == .dependencies
        let shared = Locked(Shared(state: state, schedule: Schedule(dag: dag, scheduling: options.scheduling)))
        self.shared = shared
        let durability = options.durability
        self.persister = Persister(
            durable: state.lastSequence, workflow: key,
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
        let (workers, startSequence) = shared.withLock { shared in
            let recovering = shared.state.status == .running
            emit(&shared, .workflowStarted(status: .running))
            if recovering { recordCrashes(&shared) }
            if let reason = options.cancellation?.reason {
                shared.cancelReason = reason
                return (0, shared.state.lastSequence)
            }
            if recovering, shared.state.recoveries > options.recoveryLimit {
                failForRecoveryLimit(&shared)
                return (0, shared.state.lastSequence)
            }
            prepare(&shared)
            push(shared.schedule.initialReady())
            if shared.schedule.unfinished == 0 { queue.close() }
            return (min(options.maxConcurrency, shared.schedule.unfinished), shared.state.lastSequence)
        }
        // The start (and any crash found) is written before a node runs, so that a crash in
        // this run is seen, and counted, by the next (see ExecutionOptions.recoveryLimit).
        if workers > 0, options.persistence != .end {
            if journaling {
                await persister.publish(upTo: startSequence)
            } else if !(await commit(upTo: startSequence)) {
                return try await conclude()
            }
        }
        logger.info("workflow started", metadata: ["nodes": "\(dag.count)", "to_run": "\(workers)"])
        if workers > 0 { await runWorkers(workers) }
        var result = try await conclude()
        result.metrics.duration = clock.now - started
        return result
    }

    /// The worker tasks, the late-sync timer and the cancellation watcher, until the workers end.
    private func runWorkers(_ workers: Int) async {
        enum Exit { case worker(WorkerExit), helper }
        await withTaskGroup(of: Exit.self) { group in
            for _ in 0..<workers {
                group.addTask { .worker(await self.worker()) }
            }
            if deferredSync {
                group.addTask {
                    await self.syncLateCompletions()
                    return .helper
                }
            }
            if let request = options.cancellation {
                group.addTask {
                    if let reason = await request.wait() {
                        self.shared.withLock { $0.cancelReason = $0.cancelReason ?? reason }
                        self.queue.close()
                        return .worker(.stop)
                    }
                    return .helper
                }
            }
            var running = workers
            for await exit in group {
                guard case .worker(let end) = exit else { continue }
                if end == .stop {
                    queue.close()
                    group.cancelAll()
                }
                running -= 1
                // The workers are done: stop the helpers too.
                if running <= 0 { group.cancelAll() }
            }
        }
    }

    /// A run that finds the workflow `running` recovers it from a crash: every node found with
    /// an attempt open had that attempt cut short by the crash, which is recorded (it stays
    /// counted against the node's retry budget).
    private func recordCrashes(_ shared: inout Shared) {
        for index in shared.state.nodes.indices {
            let node = shared.state.nodes[index]
            guard node.status == .running, node.attemptOpen else { continue }
            emit(
                &shared,
                .nodeCrashed(
                    node: node.name, attempt: Int(node.attempts),
                    error: "attempt \(node.attempts) was cut short by a crash of the process running it"),
                node: index)
            logger.warning(
                "node attempt cut short by a crash", metadata: ["node": "\(node.name)", "attempt": "\(node.attempts)"])
        }
    }

    /// Fails a workflow recovered more than ``ExecutionOptions/recoveryLimit`` times without a
    /// node completing, running nothing: the nodes a crash left unfinished fail with the reason.
    private func failForRecoveryLimit(_ shared: inout Shared) {
        let reason =
            "recovery limit: recovered \(shared.state.recoveries) times after a crash without a node completing (limit \(options.recoveryLimit))"
        for index in shared.state.nodes.indices where shared.state.nodes[index].status == .interrupted
            || shared.state.nodes[index].status == .running
        {
            emit(&shared, .nodeFailed(node: dag.nodes[index].name, attempt: nil, error: reason), node: index)
            shared.metrics.nodesFailed += 1
        }
        shared.failReason = reason
        logger.error("workflow failed", metadata: ["reason": "\(reason)"])
    }

    /// Decides which nodes this run handles (see ``Schedule/prepare(statuses:failFast:)``) and
    /// records those blocked by a failed dependency `skipped`.
    private func prepare(_ shared: inout Shared) {
        let preparation = shared.schedule.prepare(
            statuses: shared.state.nodes.map(\.status), failFast: options.failurePolicy == .failFast)
        shared.metrics.nodesAlreadyCompleted += preparation.alreadyCompleted
        for (index, blocker) in preparation.skipped {
            emit(&shared, .nodeSkipped(node: dag.nodes[index].name, reason: skipReason(blocker)), node: index)
            shared.metrics.nodesSkipped += 1
        }
    }

    private func push(_ ready: [Int]) {
        queue.push(ready)
    }

    private func worker() async -> WorkerExit {
        while let index = await nextNode() {
            if Task.isCancelled { return .stop }
            let outcome = await attempts(of: index).run()
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
                guard await commit(upTo: sequence) else { return nil }
                shared.withLock { shared in
                    if shared.schedule.unfinished == 0 { queue.close() }
                }
            case .wait:
                let index = await queue.next()
                shared.withLock { $0.idleWorkers -= 1 }
                return index
            }
        }
    }

    /// Commits everything up to `sequence` and releases the dependents of every completion the
    /// commit covered. On failure records it (the first failure is the one reported), logs it
    /// and returns false: the run stops. Every commit of a run but the last goes through here.
    private func commit(upTo sequence: UInt64) async -> Bool {
        do {
            try await persister.commit(upTo: sequence)
        } catch {
            shared.withLock { $0.persistFailure = $0.persistFailure ?? error }
            logger.error("persistence failed; the run stops", metadata: ["error": "\(error.message)"])
            return false
        }
        let durable = persister.durableSequence
        shared.withLock { releaseCommitted(upTo: durable, &$0) }
        return true
    }

    /// Commits completions that have waited ``maxSyncDelay`` for a dependent to need them, so
    /// that no end stays unsynced for long while the workers run long nodes. Ends when cancelled.
    private func syncLateCompletions() async {
        let clock = ContinuousClock()
        while true {
            let wait = shared.withLock { shared in
                shared.unreleased.first.map { $0.ended + Self.maxSyncDelay - clock.now } ?? Self.maxSyncDelay
            }
            if wait > .zero {
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    return
                }
            }
            let sequence: UInt64? = shared.withLock { shared in
                guard let oldest = shared.unreleased.first, clock.now - oldest.ended >= Self.maxSyncDelay else {
                    return nil
                }
                return shared.state.lastSequence
            }
            if let sequence {
                guard await commit(upTo: sequence) else {
                    queue.close()
                    return
                }
                shared.withLock { shared in
                    if shared.schedule.unfinished == 0 { queue.close() }
                }
            }
        }
    }

    /// The attempt loop of node `index`, recording through this run.
    private func attempts(of index: Int) -> AttemptLoop {
        let node = dag.nodes[index]
        let budget = RetryBudget(maxAttempts: node.retry.maxAttempts)
        return AttemptLoop(
            node: node, maxOutputBytes: options.limits.maxOutputBytes,
            begin: {
                let begun: Result<(attempt: UInt32, sequence: UInt64), BudgetSpent> = self.shared.withLock { shared in
                    if let refusal = budget.refusal(for: shared.state.nodes[index]) {
                        self.logger.warning("node not started", metadata: ["node": "\(node.name)", "reason": "\(refusal)"])
                        return .failure(BudgetSpent(message: refusal))
                    }
                    let attempt = shared.state.nodes[index].attempts &+ 1
                    self.emit(&shared, .nodeStarted(node: node.name, attempt: Int(attempt)), node: index)
                    shared.metrics.attemptsStarted += 1
                    return .success((attempt, shared.state.lastSequence))
                }
                let start: (attempt: UInt32, sequence: UInt64)
                switch begun {
                case .failure(let spent): return .refused(spent.message)
                case .success(let started): start = started
                }
                // The start reaches the journal now (unsynced; the next commit syncs it), so a
                // follower sees it at once and a crash mid-action usually finds the node running.
                if self.journaling { await self.persister.publish(upTo: start.sequence) }
                var nodeLogger = self.logger
                nodeLogger[metadataKey: "node"] = "\(node.name)"
                let context = NodeContext(
                    workflowID: self.key.id, tenant: self.key.tenant, node: node.name, attempt: Int(start.attempt),
                    idempotencyKey: "\(self.key.tenant)/\(self.key.id)/\(node.name)", logger: nodeLogger,
                    coordinator: self)
                return .started(attempt: start.attempt, context: context)
            },
            retry: { attempt, message, backoff in
                self.shared.withLock { shared in
                    let state = shared.state.nodes[index]
                    guard budget.allowsRetry(after: state) else { return nil }
                    let delay = backoff(Int(state.countedAttempts))
                    self.emit(
                        &shared, .nodeRetried(node: node.name, attempt: Int(attempt), delay: delay, error: message),
                        node: index)
                    shared.metrics.retries += 1
                    return delay
                }
            })
    }

    /// A node whose retry budget is spent, with the message it fails with.
    private struct BudgetSpent: Error {
        var message: String
    }

    /// Records how node `index` ended, makes it durable as the strategy says, then lets the
    /// nodes that waited for it start.
    private func finish(_ index: Int, _ outcome: AttemptOutcome) async -> WorkerExit {
        let (sequence, levelDone, deferred) = shared.withLock { shared in
            switch outcome {
            case .completed(let output):
                emit(&shared, .nodeCompleted(node: dag.nodes[index].name, output: output), node: index)
                shared.metrics.nodesCompleted += 1
            case .failed(let message):
                emit(&shared, .nodeFailed(node: dag.nodes[index].name, attempt: nil, error: message), node: index)
                shared.metrics.nodesFailed += 1
                logger.warning("node failed", metadata: ["node": "\(dag.nodes[index].name)", "error": "\(message)"])
                if options.failurePolicy == .failFast {
                    shared.failFastTriggered = true
                } else {
                    for skipped in shared.schedule.skipDescendants(of: index) {
                        emit(&shared, .nodeSkipped(node: dag.nodes[skipped].name, reason: skipReason(index)), node: skipped)
                        shared.metrics.nodesSkipped += 1
                    }
                }
            case .cancelled(let attempt):
                // Stopped by fail-fast or a cancellation asked for: cancelled; by the task's
                // cancellation (an interrupt of the process): interrupted, which resumes.
                if shared.failFastTriggered || shared.cancelReason != nil {
                    emit(&shared, .nodeCancelled(node: dag.nodes[index].name), node: index)
                } else {
                    emit(
                        &shared, .nodeInterrupted(node: dag.nodes[index].name, attempt: attempt > 0 ? Int(attempt) : nil),
                        node: index)
                }
                shared.metrics.nodesCancelled += 1
            }
            let levelDone = shared.schedule.end(index)
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
        if checkpoint, !(await commit(upTo: sequence)) { return .stop }
        return shared.withLock { shared in
            if shared.failFastTriggered || shared.cancelReason != nil { return .stop }
            if case .cancelled = outcome { return .stop }
            if case .completed = outcome { push(shared.schedule.release(index)) }
            if options.scheduling == .levels { push(shared.schedule.advanceLevels()) }
            if shared.schedule.unfinished == 0 { queue.close() }
            return .drained
        }
    }

    /// Releases every waiting completion whose end is durable (sequence up to `durable`).
    private func releaseCommitted(upTo durable: UInt64, _ shared: inout Shared) {
        guard let first = shared.unreleased.first, first.sequence <= durable else { return }
        let covered = shared.unreleased.prefix { $0.sequence <= durable }
        shared.unreleased.removeFirst(covered.count)
        for entry in covered { push(shared.schedule.release(entry.index)) }
    }

    private func skipReason(_ failed: Int) -> String {
        "dependency \(Names.quoted(dag.nodes[failed].name)) failed"
    }

    /// Records how the run ended and persists it.
    private func conclude() async throws -> ExecutionResult {
        if let failure = shared.withLock({ $0.persistFailure }) { throw failure }
        let sequence = shared.withLock { shared in
            let nodes = shared.state.nodes
            var reason: String?
            let status: WorkflowStatus
            if let cancelled = shared.cancelReason {
                status = .cancelled
                reason = cancelled
            } else if nodes.contains(where: { $0.status == .failed }) {
                status = .failed
                reason = shared.failReason
            } else if nodes.allSatisfy({ Schedule.satisfies($0.status) }) {
                status = .completed
            } else {
                status = .interrupted
            }
            emit(&shared, .workflowFinished(status: status, reason: reason))
            logger.info("workflow finished", metadata: ["status": "\(status)"])
            return shared.state.lastSequence
        }
        try await persister.commit(upTo: sequence)
        return shared.withLock { ExecutionResult(state: $0.state, metrics: $0.metrics) }
    }

    // MARK: Events

    /// Creates the next event, applies it to the state and queues it for the journal.
    /// `node` is the index of the node `change` names, if any.
    private func emit(_ shared: inout Shared, _ change: WorkflowEvent.Change, node: Int? = nil) {
        let event = WorkflowEvent(
            sequence: shared.state.lastSequence &+ 1, time: .nowMicroseconds(), change: change,
            nodeIndex: node.map(Int32.init) ?? -1)
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
            "event", metadata: ["seq": "\(event.sequence)", "kind": "\(event.kind)", "node": "\(event.node ?? "")"])
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
            emit(&shared, .dataSet(key: key, value: value))
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
