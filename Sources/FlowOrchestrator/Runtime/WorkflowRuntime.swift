import Foundation
import Logging

/// How a ``WorkflowRuntime`` claims and runs workflows.
public struct RuntimeOptions: Sendable {
    /// The most workflows this runtime runs at once (each workflow's own `maxConcurrency`
    /// bounds its nodes).
    public var maxConcurrentWorkflows: Int
    /// The queues this runtime claims from; nil for every queue of the store.
    public var queues: [String]?
    /// How often the ready index is read when nothing in this process wakes the loop earlier.
    public var pollInterval: Duration
    /// How often the cancel requests of the running workflows are checked.
    public var cancelPollInterval: Duration
    /// How long a graceful shutdown (``WorkflowRuntime/shutdown()``) lets running nodes finish
    /// before the runs are interrupted.
    public var shutdownGrace: Duration
    /// How each workflow runs and persists (its `cancellation` is the runtime's own).
    public var execution: ExecutionOptions

    /// Options with every field given. The defaults: as many workflows as CPUs, every queue,
    /// a 50 ms poll, a 10 s grace period, the library's durable execution defaults.
    public init(
        maxConcurrentWorkflows: Int = ProcessInfo.processInfo.activeProcessorCount, queues: [String]? = nil,
        pollInterval: Duration = .milliseconds(50), cancelPollInterval: Duration = .milliseconds(50),
        shutdownGrace: Duration = .seconds(10), execution: ExecutionOptions = ExecutionOptions()
    ) {
        self.maxConcurrentWorkflows = max(1, maxConcurrentWorkflows)
        self.queues = queues
        self.pollInterval = pollInterval
        self.cancelPollInterval = cancelPollInterval
        self.shutdownGrace = shutdownGrace
        self.execution = execution
    }
}

/// Owns workflows between calls: registered types, durable queues, claims shared by every
/// process on one store, recovery, cancellation from anywhere (docs/adr/0011).
///
/// ```swift
/// let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: "/var/lib/flows"))
/// try await runtime.register(WorkflowType(name: "report", version: 2) { input in try reportDAG(input) })
/// let handle = try await runtime.start("report", id: "report-2026-12-24", input: input)
/// async let claiming: Void = runtime.run()
/// let final = try await handle.result()
/// ```
///
/// ``start(_:version:id:tenant:input:definition:queue:priority:notBefore:)`` only queues; a
/// runtime whose ``run()`` is under way (in this process or any other sharing the store) claims
/// the queued workflows, highest priority first, never before their `notBefore`, within each
/// queue's limits (``QueueConfig``). A workflow whose process died is claimable at once (the
/// kernel drops its locks); the claimer resumes it on the type version it started with, and
/// ``ExecutionOptions/recoveryLimit`` still fails one that keeps killing its process.
public actor WorkflowRuntime {
    /// The runtime's records (queues, claims, cancel requests).
    public nonisolated let records: any RuntimeStore
    /// Where the workflows' states live.
    public nonisolated let store: any WorkflowStore
    /// The options.
    public nonisolated let options: RuntimeOptions
    private nonisolated let events: FlatBuffersStore?
    private nonisolated let logger: Logger
    private nonisolated let wakeup = Wakeup()
    private nonisolated let gate = NodeGate()

    private enum Phase { case idle, running, draining, stopped }

    /// A claimed workflow of this runtime.
    private struct ActiveRun {
        var entry: QueueEntry
        var request: CancellationRequest
        var slot: (any RuntimeSlot)?
    }

    private struct Claim: Sendable {
        var entry: QueueEntry
        var type: WorkflowType
        var request: CancellationRequest
    }

    private var phase = Phase.idle
    private var types: [String: [Int: WorkflowType]] = [:]
    private var runs: [WorkflowKey: ActiveRun] = [:]
    private var strandedByKey: [WorkflowKey: StrandedWorkflow] = [:]
    private var rateBlockedUntil: [String: Date] = [:]

    /// A runtime over `store`, its records kept in files under the store's directory
    /// (``FileRuntimeStore``). Nothing is read or written until a call below.
    public init(store: FlatBuffersStore, options: RuntimeOptions = RuntimeOptions(), logger: Logger? = nil) {
        self.init(records: FileRuntimeStore(store: store), events: store, options: options, logger: logger)
    }

    /// A runtime over any ``RuntimeStore``.
    public init(records: any RuntimeStore, options: RuntimeOptions = RuntimeOptions(), logger: Logger? = nil) {
        self.init(records: records, events: nil, options: options, logger: logger)
    }

    private init(records: any RuntimeStore, events: FlatBuffersStore?, options: RuntimeOptions, logger: Logger?) {
        self.records = records
        self.store = records.workflows
        self.events = events
        self.options = options
        self.logger = logger ?? Logger(label: "FlowOrchestrator.runtime", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    // MARK: Types

    /// Registers `type`; several versions of one name may be registered. Throws `alreadyExists`
    /// for a name and version registered twice, `invalidName` for a bad name.
    public func register(_ type: WorkflowType) throws {
        try Names.validate(type.name, as: "workflow type", code: .invalidName)
        guard types[type.name]?[type.version] == nil else {
            throw FlowError(.alreadyExists, "workflow type \(type.label) is registered already")
        }
        types[type.name, default: [:]][type.version] = type
        // Workflows stranded for want of this version are claimable again.
        strandedByKey = strandedByKey.filter { !($0.value.type == type.name && $0.value.version == type.version) }
        wakeup.signal()
    }

    /// The registered versions of `name`, oldest first.
    public func versions(of name: String) -> [Int] { (types[name]?.keys).map { $0.sorted() } ?? [] }

    // MARK: Starting

    /// Queues a workflow of type `typeName` (at `version`, the newest registered when nil) with
    /// ID `id`, or returns the handle of the one stored with that ID.
    ///
    /// Idempotent by ID: when the workflow exists (started by any process, finished or not),
    /// nothing is queued and its handle is returned, provided it was started with the same type,
    /// version, input and definition; otherwise `alreadyExists` names what differs. A larger
    /// `priority` is claimed first; the workflow is never claimed before `notBefore` (default:
    /// now). Durable on return: the run record, the workflow's pending state and its queue entry
    /// are synced, so the queued workflow survives kill -9 of every process.
    public func start(
        _ typeName: String, version: Int? = nil, id: String, tenant: String = WorkflowKey.defaultTenant,
        input: Data = Data(), definition: Data? = nil, queue: String = "default", priority: Int = 0,
        notBefore: Date? = nil
    ) async throws -> WorkflowHandle {
        let key = try WorkflowKey(tenant: tenant, id: id)
        try Names.validate(queue, as: "queue name", code: .invalidName)
        guard let registered = types[typeName], !registered.isEmpty else {
            throw FlowError(.invalidArgument, "workflow type \(Names.quoted(typeName)) is not registered", workflow: key)
        }
        let chosen = version ?? registered.keys.max()!
        guard let type = registered[chosen] else {
            throw FlowError(
                .invalidArgument,
                "workflow type \(typeName)@\(chosen) is not registered (registered: \(versions(of: typeName).map(String.init).joined(separator: ", ")))",
                workflow: key)
        }
        try PayloadLimits.check(
            input.count, limit: options.execution.limits.maxInputBytes, what: "input of workflow \(key)")
        let plan = try type.build(WorkflowBuildInput(key: key, input: input, definition: definition, claimed: false))
        let handle = WorkflowHandle(key: key, runtime: self)

        let stored = try await store.loadIfPresent(key)
        var record = try await records.runRecord(key)
        if let stored, record == nil {
            // Stored by a plain `execute()` (or `flowctl run`): the same workflow, not queued.
            try Self.refuseDifferent(
                key, stored: stored, record: nil, type: type, input: input, definition: definition, dag: plan.dag)
            return handle
        }
        if record == nil {
            let now = Date.nowMicroseconds()
            let new = RunRecord(
                type: type.name, version: type.version, queue: queue, priority: priority,
                notBefore: notBefore ?? now, created: now)
            record = try await records.createRunRecord(new, for: key) ?? new
        }
        guard let record else { throw FlowError(.corruptData, "workflow \(key): run record vanished", workflow: key) }
        if let stored {
            try Self.refuseDifferent(
                key, stored: stored, record: record, type: type, input: input, definition: definition, dag: plan.dag)
            if stored.status.isFinished { return handle }
        } else {
            guard record.type == type.name, record.version == type.version else {
                throw FlowError(
                    .alreadyExists,
                    "workflow \(key) was started as \(record.type)@\(record.version), not \(type.label)", workflow: key)
            }
            let state = WorkflowState(
                id: key.id, tenant: key.tenant, fingerprint: plan.dag.fingerprint, nodeNames: plan.dag.nodeNames,
                input: input, definition: definition)
            try await createState(state, key: key)
        }
        // Only now the entry: a claimer that finds it finds the record and the state too.
        try await records.enqueue(record.entry(for: key))
        logger.info(
            "workflow queued",
            metadata: ["workflow": "\(key)", "type": "\(type.label)", "queue": "\(record.queue)"])
        wakeup.signal()
        return handle
    }

    /// Saves a new workflow's first state (synced) unless a concurrent start wrote one first.
    private nonisolated func createState(_ state: WorkflowState, key: WorkflowKey) async throws {
        do {
            try await store.withWriter(key) { writer in
                if try await store.loadIfPresent(key) == nil { try await writer.save(state, durability: .fsync) }
            }
        } catch let error as FlowError where error.code == .locked {
            // Another process writes it: it is being created or already claimed.
        }
    }

    /// Throws `alreadyExists` naming the difference when `stored` was not started as asked.
    private static func refuseDifferent(
        _ key: WorkflowKey, stored: WorkflowState, record: RunRecord?, type: WorkflowType, input: Data,
        definition: Data?, dag: DAG
    ) throws {
        var differences: [String] = []
        if let record, record.type != type.name || record.version != type.version {
            differences.append("it was started as \(record.type)@\(record.version), not \(type.label)")
        }
        if stored.definition != definition { differences.append("its stored definition differs") }
        if stored.input != input { differences.append("its stored input differs") }
        if record == nil, stored.fingerprint != dag.fingerprint {
            differences.append("its DAG differs (stored \(stored.fingerprint), given \(dag.fingerprint))")
        }
        guard differences.isEmpty else {
            throw FlowError(
                .alreadyExists, "workflow \(key) exists and \(differences.joined(separator: "; "))", workflow: key)
        }
    }

    /// A handle for the stored workflow `key` (started by any process, or not stored yet).
    public nonisolated func handle(for key: WorkflowKey) -> WorkflowHandle {
        WorkflowHandle(key: key, runtime: self)
    }

    // MARK: Cancelling

    /// Cancels `key` for good, from any process. The request is durable when this returns. A
    /// workflow no process runs is recorded `cancelled` before this returns (queued ones never
    /// run); one that a process runs is stopped by that process, which sees the request within
    /// ``RuntimeOptions/cancelPollInterval`` and records `cancelled`. A finished workflow is
    /// left as it is. Throws `notFound` for an unknown workflow.
    public func cancel(_ key: WorkflowKey, reason: String = "cancelled by request") async throws {
        guard let state = try await store.loadIfPresent(key) else {
            throw FlowError(.notFound, "workflow \(key) not found", workflow: key)
        }
        if state.status.isFinished { return }
        try await records.requestCancel(key, reason: reason)
        if let run = runs[key] {
            run.request.cancel(reason: reason)
            return
        }
        if try await recordCancelled(key, reason: reason), let record = try await records.runRecord(key) {
            try await records.dequeue(record.entry(for: key))
        }
    }

    /// Records `key` cancelled under its writer (every unfinished node `cancelled`, then the
    /// workflow); true when it is final now, false when another process holds the writer.
    private nonisolated func recordCancelled(_ key: WorkflowKey, reason: String) async throws -> Bool {
        do {
            return try await store.withWriter(key) { writer in
                guard var state = try await store.loadIfPresent(key) else { return true }
                if state.status.isFinished { return true }
                var events: [WorkflowEvent] = []
                var changes: [(Int32, WorkflowEvent.Change)] = state.nodes.indices
                    .filter { !state.nodes[$0].status.isFinished }
                    .map { (Int32($0), .nodeCancelled(node: state.nodes[$0].name)) }
                changes.append((-1, .workflowFinished(status: .cancelled, reason: reason)))
                for (index, change) in changes {
                    let event = WorkflowEvent(
                        sequence: state.lastSequence &+ 1, time: .nowMicroseconds(), change: change, nodeIndex: index)
                    try state.apply(event)
                    events.append(event)
                }
                if store.supportsJournal {
                    try await writer.append(events, durability: .fsync)
                } else {
                    try await writer.save(state, durability: .fsync)
                }
                logger.info("workflow cancelled while queued", metadata: ["workflow": "\(key)", "reason": "\(reason)"])
                return true
            }
        } catch let error as FlowError where error.code == .locked {
            return false
        }
    }

    // MARK: Listing

    /// The workflows this runtime found and left where they are, with the reason.
    public func stranded() -> [StrandedWorkflow] {
        strandedByKey.values.sorted { $0.key < $1.key }
    }

    /// The queued and claimed, unfinished workflows of `queue` (every queue when nil), in claim order.
    public func queued(queue: String? = nil) async throws -> [QueuedWorkflow] {
        var result: [QueuedWorkflow] = []
        var names: [String]
        if let queue { names = [queue] } else { names = try await records.queueNames() }
        for name in names {
            for entry in try await records.entries(in: name) {
                result.append(QueuedWorkflow(entry: entry, claimed: try await records.isOwned(entry.key)))
            }
        }
        return result
    }

    /// The workflows this runtime runs right now.
    public func running() -> [WorkflowKey] { runs.keys.sorted() }

    // MARK: Claiming and running

    /// Claims and runs queued workflows until ``shutdown()`` (graceful) or until the calling
    /// task is cancelled (the runs are interrupted at once). Recovery at start is the same
    /// loop: entries whose owner died are claimable at once. Throws `invalidArgument` while
    /// another `run()` of this runtime is under way; after one returned, it may be called again.
    public func run() async throws {
        guard phase == .idle || phase == .stopped else {
            throw FlowError(.invalidArgument, "the runtime's run() is under way already")
        }
        phase = .running
        gate.reset()
        logger.info("runtime claiming", metadata: ["queues": "\(options.queues?.joined(separator: ",") ?? "*")"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchCancelRequests() }
            group.addTask { await self.runSchedules(logger: self.logger) }  // schedules (Scheduler.swift)
            while phase == .running, !Task.isCancelled {
                let (claims, nextWake) = await claimPass()
                for claim in claims {
                    group.addTask { await self.execute(claim) }
                }
                var delay = options.pollInterval
                if let nextWake {
                    let until = Duration.microseconds(max(0, nextWake.microsecondsSince1970 - Date().microsecondsSince1970) + 1000)
                    delay = min(delay, until)
                }
                await wakeup.wait(timeout: delay)
            }
            if !Task.isCancelled { await drain() }
            group.cancelAll()
        }
        phase = .stopped
        logger.info("runtime stopped")
    }

    /// Stops claiming; running nodes may finish within ``RuntimeOptions/shutdownGrace``, then
    /// the runs are interrupted (recorded `interrupted`, with their queue entries kept, so that
    /// another process resumes them) and ``run()`` returns. Returns at once.
    public func shutdown() {
        if phase == .running { phase = .draining }
        gate.startDraining()
        wakeup.signal()
    }

    /// Waits until no node action is under way or the grace period is over.
    private func drain() async {
        let deadline = ContinuousClock.now + options.shutdownGrace
        while gate.inFlight > 0, !runs.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// One pass over the ready index: the workflows this runtime claims now, and the earliest
    /// time a skipped entry becomes due.
    private func claimPass() async -> ([Claim], Date?) {
        var claims: [Claim] = []
        var nextWake: Date?
        func wake(at date: Date) { nextWake = min(nextWake ?? date, date) }
        do {
            var names: [String]
            if let queues = options.queues { names = queues } else { names = try await records.queueNames() }
            queues: for queue in names {
                guard runs.count < options.maxConcurrentWorkflows, phase == .running else { break }
                if let until = rateBlockedUntil[queue] {
                    if until > Date() {
                        wake(at: until)
                        continue
                    }
                    rateBlockedUntil[queue] = nil
                }
                let config = try await records.queueConfig(queue)
                for entry in try await records.entries(in: queue) {
                    guard runs.count < options.maxConcurrentWorkflows, phase == .running else { break queues }
                    if let perWorker = config.perWorker, runs.values.count(where: { $0.entry.queue == queue }) >= perWorker {
                        continue queues
                    }
                    let key = entry.key
                    if runs[key] != nil || strandedByKey[key] != nil { continue }
                    if entry.notBefore > Date() {
                        wake(at: entry.notBefore)
                        continue
                    }
                    if try await records.isOwned(key) { continue }
                    guard let record = try await records.runRecord(key) else {
                        // Its workflow was deleted: the entry is left over.
                        if try await store.loadIfPresent(key) == nil { try await records.dequeue(entry) }
                        continue
                    }
                    guard let state = try await store.loadIfPresent(key) else { continue }
                    if state.status.isFinished {
                        // Final before a crash could remove the entry.
                        try await records.dequeue(entry)
                        continue
                    }
                    guard let type = types[record.type]?[record.version] else {
                        let known = versions(of: record.type).map(String.init).joined(separator: ", ")
                        strand(
                            entry, record: record,
                            reason: known.isEmpty
                                ? "workflow type \(Names.quoted(record.type)) is not registered in this process"
                                : "version \(record.version) of workflow type \(Names.quoted(record.type)) is not registered in this process (registered: \(known))")
                        continue
                    }
                    if let reason = try await records.cancelRequest(key) {
                        if try await recordCancelled(key, reason: reason) { try await records.dequeue(entry) }
                        continue
                    }
                    var slot: (any RuntimeSlot)?
                    if let limit = config.limit {
                        slot = try await records.claimSlot(queue: queue, limit: limit)
                        // Every slot is taken: the queue is full across the store.
                        if slot == nil { continue queues }
                    }
                    if let count = config.rateCount, let period = config.ratePeriod,
                        let until = try await records.reserveStart(queue: queue, count: count, period: period, now: Date())
                    {
                        slot?.release()
                        rateBlockedUntil[queue] = until
                        wake(at: until)
                        continue queues
                    }
                    let request = CancellationRequest()
                    runs[key] = ActiveRun(entry: entry, request: request, slot: slot)
                    claims.append(Claim(entry: entry, type: type, request: request))
                }
            }
        } catch {
            logger.error("claim pass failed", metadata: ["error": "\(error)"])
        }
        return (claims, nextWake)
    }

    private func strand(_ entry: QueueEntry, record: RunRecord, reason: String) {
        guard strandedByKey[entry.key] == nil else { return }
        strandedByKey[entry.key] = StrandedWorkflow(
            key: entry.key, queue: entry.queue, type: record.type, version: record.version, reason: reason)
        logger.warning(
            "workflow left in its queue",
            metadata: ["workflow": "\(entry.key)", "queue": "\(entry.queue)", "reason": "\(reason)"])
    }

    /// Runs one claimed workflow to its end (or interruption) and gives its claim back.
    private nonisolated func execute(_ claim: Claim) async {
        let key = claim.entry.key
        do {
            let state = try await store.load(key)
            let plan = try claim.type.build(WorkflowBuildInput(key: key, input: state.input, definition: state.definition, claimed: true))
            defer { plan.onEnd?() }
            var execution = options.execution
            if let width = plan.maxConcurrency { execution.maxConcurrency = max(1, width) }
            execution.cancellation = claim.request
            let workflow = Workflow(key: key, dag: try gate.wrap(plan.dag, before: plan.beforeNodes), store: store, options: execution, logger: logger)
            logger.info("workflow claimed", metadata: ["workflow": "\(key)", "status": "\(state.status)"])
            let result = try await workflow.execute()
            // The final status is durable now: only then the entry goes.
            if result.status.isFinished { try await records.dequeue(claim.entry) }
            logger.info("workflow run ended", metadata: ["workflow": "\(key)", "status": "\(result.status)"])
        } catch let error as FlowError where error.code == .locked {
            // Another process took it between the probe and the writer: it is theirs.
        } catch let error as FlowError where error.code == .cancelled {
            try? await records.dequeue(claim.entry)
        } catch {
            logger.error("workflow run failed", metadata: ["workflow": "\(key)", "error": "\(error)"])
            if let record = try? await records.runRecord(key) {
                await strand(claim.entry, record: record, reason: "its run failed: \(error)")
            }
        }
        await finished(key)
    }

    private func finished(_ key: WorkflowKey) {
        runs.removeValue(forKey: key)?.slot?.release()
        wakeup.signal()
    }

    /// Passes the cancel requests of running workflows to their runs.
    private func watchCancelRequests() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: options.cancelPollInterval)
            let keys = runs.filter { !$0.value.request.isCancelled }.map(\.key)
            guard !keys.isEmpty, let found = try? await records.cancelRequests(keys) else { continue }
            for (key, reason) in found { runs[key]?.request.cancel(reason: reason) }
        }
    }

    /// The followed events of `key`, when the store keeps them.
    nonisolated func events(_ key: WorkflowKey, from: UInt64) -> AsyncThrowingStream<WorkflowEvent, any Error> {
        guard let events else {
            return AsyncThrowingStream {
                $0.finish(throwing: FlowError(.historyUnavailable, "this runtime's store does not follow events", workflow: key))
            }
        }
        return events.events(key, from: from)
    }
}
