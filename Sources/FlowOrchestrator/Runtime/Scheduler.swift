import Foundation
import Logging

/// A stored schedule: its ``ScheduleSpec`` and what each slot starts (a workflow type with its
/// input, definition, queue and priority). Kept in `ROOT/.runtime/schedules/NAME.json`.
public struct ScheduleDefinition: Sendable, Hashable, Codable {
    /// When the slots come, the overlap policy and the catch-up window.
    public var spec: ScheduleSpec
    /// The workflow type each slot starts.
    public var type: String
    /// The type's version; nil for the newest registered when the slot starts.
    public var version: Int?
    /// The tenant of the slots' workflows.
    public var tenant: String
    /// The input of every slot's workflow.
    public var input: Data
    /// The definition stored with every slot's workflow (a definition file's source), if any.
    public var definition: Data?
    /// The queue the slots' workflows go to.
    public var queue: String
    /// Their priority.
    public var priority: Int
    /// When the schedule was added: no slot before it is started, even within the catch-up window.
    public var created: Date

    /// A definition; `created` defaults to now.
    public init(
        spec: ScheduleSpec, type: String, version: Int? = nil, tenant: String = WorkflowKey.defaultTenant,
        input: Data = Data(), definition: Data? = nil, queue: String = "default", priority: Int = 0,
        created: Date = Date()
    ) {
        self.spec = spec
        self.type = type
        self.version = version
        self.tenant = tenant
        self.input = input
        self.definition = definition
        self.queue = queue
        self.priority = priority
        self.created = Date(timeIntervalSince1970: created.timeIntervalSince1970.rounded(.down))
    }

    /// The schedule's name.
    public var name: String { spec.name }
}

/// The stored schedules of a ``FlatBuffersStore``: one JSON file per schedule in
/// `ROOT/.runtime/schedules/`, each replaced atomically.
public struct FileScheduleStore: Sendable {
    /// The store whose directory holds the schedules.
    public let store: FlatBuffersStore
    private var io: FileIO { store.engine.io }

    /// The schedules of `store`; nothing is written until a call needs it.
    public init(store: FlatBuffersStore) { self.store = store }

    /// `ROOT/.runtime/schedules`.
    public var directory: String { store.directory + "/.runtime/schedules" }

    private func path(_ name: String) -> String { "\(directory)/\(name).json" }

    /// Stores `schedule`, replacing one of the same name. Durable on return (file and directory
    /// synced).
    public func save(_ schedule: ScheduleDefinition) async throws {
        try Names.validate(schedule.name, as: "schedule name", code: .invalidName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .secondsSince1970
        let bytes = try encoder.encode(schedule) + Data("\n".utf8)
        let directory = directory
        let path = path(schedule.name)
        let io = io
        try await IOThreadPool.shared.run {
            try io.makeDirectories(directory, durability: .fsync)
            try bytes.withUnsafeBytes { try io.replaceAtomically(path, with: $0, durability: .fsync) }
        }
    }

    /// The schedule named `name`; nil when there is none. Throws `corruptData` naming the file
    /// when it cannot be read.
    public func load(_ name: String) async throws -> ScheduleDefinition? {
        try Names.validate(name, as: "schedule name", code: .invalidName)
        let path = path(name)
        let io = io
        return try await IOThreadPool.shared.run { try Self.read(path, io: io) }
    }

    private static func read(_ path: String, io: FileIO) throws -> ScheduleDefinition? {
        guard let bytes = try io.readFile(path, limit: 16 << 20) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .secondsSince1970
            return try decoder.decode(ScheduleDefinition.self, from: Data(bytes.bytes))
        } catch {
            throw FlowError(.corruptData, "schedule \(path) cannot be read: \(error)", cause: error, path: path)
        }
    }

    /// Every stored schedule, by name; a file that cannot be read is returned as its error, so
    /// that one damaged schedule never stops the others.
    public func all() async throws -> [(name: String, schedule: Result<ScheduleDefinition, FlowError>)] {
        let directory = directory
        let io = io
        return try await IOThreadPool.shared.run {
            try io.list(directory).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { file in
                let name = String(file.dropLast(5))
                do {
                    guard let schedule = try Self.read("\(directory)/\(file)", io: io) else {
                        throw FlowError(.notFound, "schedule \(name) vanished")
                    }
                    return (name, .success(schedule))
                } catch let error as FlowError {
                    return (name, .failure(error))
                } catch {
                    return (name, .failure(FlowError(.corruptData, "schedule \(name): \(error)", cause: error)))
                }
            }
        }
    }

    /// Removes the schedule `name`; false when there was none. Durable on return. The slots it
    /// started are left as they are.
    @discardableResult
    public func remove(_ name: String) async throws -> Bool {
        try Names.validate(name, as: "schedule name", code: .invalidName)
        let path = path(name)
        let directory = directory
        let io = io
        return try await IOThreadPool.shared.run {
            guard io.exists(path) else { return false }
            try io.remove(path)
            try io.syncDirectory(directory)
            return true
        }
    }
}

/// What one pass of the scheduler did with a schedule.
public struct ScheduleOutcome: Sendable, Hashable {
    /// What happened.
    public enum Action: Sendable, Hashable {
        /// The slot's workflow was started (or had been, by any process: `start` is idempotent).
        case started
        /// The slot was skipped: an earlier slot's workflow has not ended (overlap policy `skip`).
        case skippedOverlap(running: WorkflowKey)
        /// The schedule's workflow type is not registered in this runtime; nothing was started.
        case typeNotRegistered(String)
        /// The schedule's file cannot be read; nothing was started.
        case unreadable(reason: String)
    }

    /// The schedule.
    public var schedule: String
    /// The slot (nil when the schedule could not be looked at).
    public var slot: Date?
    /// The slot's workflow (nil when the schedule could not be looked at).
    public var workflow: WorkflowKey?
    /// What happened.
    public var action: Action

    /// An outcome; `slot` and `workflow` are nil when the schedule could not be looked at.
    public init(schedule: String, slot: Date? = nil, workflow: WorkflowKey? = nil, action: Action) {
        self.schedule = schedule
        self.slot = slot
        self.workflow = workflow
        self.action = action
    }
}

extension WorkflowRuntime {
    /// How long after its time a slot is still started when ``ScheduleSpec/catchUpWindow`` is
    /// shorter, and the longest gap between two passes that still counts as the scheduler's own
    /// lateness rather than downtime (every slot between such passes starts).
    public static let scheduleLateness: Duration = .seconds(5)

    /// The stored schedules of this runtime's store; nil when the records are not files.
    nonisolated var scheduleStore: FileScheduleStore? {
        (records as? FileRuntimeStore).map { FileScheduleStore(store: $0.store) }
    }

    /// One scheduler pass at `now`: for each stored schedule whose type this runtime registers,
    /// starts its due slots through the idempotent ``start(_:version:id:tenant:input:definition:queue:priority:notBefore:)``
    /// with each slot's workflow ID, so that processes sharing the store never start one slot
    /// twice. Due are: every slot after `previousPass` and at or before `now` when that pass was
    /// at most ``scheduleLateness`` ago (a scheduler that keeps running misses no slot);
    /// otherwise (the first pass, or after downtime) only the latest slot at or before `now`
    /// within the schedule's catch-up window (or ``scheduleLateness`` when that is shorter).
    /// No slot before the schedule was added is due. With overlap policy `skip`, a slot is
    /// skipped while an earlier slot's workflow of the schedule is queued or running. Returns
    /// what it did, per due slot not started before and per schedule it could not look at.
    /// Durable on return as `start` is: each started slot's workflow is queued.
    public func startDueSlots(now: Date = Date(), previousPass: Date? = nil) async throws -> [ScheduleOutcome] {
        guard let schedules = scheduleStore else { return [] }
        var outcomes: [ScheduleOutcome] = []
        let (lateSeconds, _) = Self.scheduleLateness.components
        for (name, loaded) in try await schedules.all() {
            let schedule: ScheduleDefinition
            switch loaded {
            case .success(let value): schedule = value
            case .failure(let error):
                outcomes.append(ScheduleOutcome(schedule: name, action: .unreadable(reason: "\(error)")))
                continue
            }
            guard !versions(of: schedule.type).isEmpty else {
                outcomes.append(ScheduleOutcome(schedule: name, action: .typeNotRegistered(schedule.type)))
                continue
            }
            var due: [Date]
            if let previousPass, previousPass <= now, now.timeIntervalSince(previousPass) <= Double(lateSeconds) {
                let from = max(previousPass.addingTimeInterval(0.001), schedule.created)
                due = from <= now ? schedule.spec.slots(in: from..<now.addingTimeInterval(0.001)) : []
            } else {
                let window = max(schedule.spec.catchUpWindow, Self.scheduleLateness)
                due = schedule.spec.latestMissed(
                    before: now, since: schedule.created.addingTimeInterval(-0.001), window: window).map { [$0] } ?? []
            }
            for slot in due {
                let key = try WorkflowKey(tenant: schedule.tenant, id: schedule.spec.workflowID(for: slot))
                if try await store.loadIfPresent(key) != nil {
                    continue  // started already, by this process or another
                }
                if schedule.spec.overlap == .skip, let running = try await runningSlot(of: schedule, before: slot) {
                    outcomes.append(
                        ScheduleOutcome(schedule: name, slot: slot, workflow: key, action: .skippedOverlap(running: running)))
                    continue
                }
                _ = try await start(
                    schedule.type, version: schedule.version, id: key.id, tenant: key.tenant, input: schedule.input,
                    definition: schedule.definition, queue: schedule.queue, priority: schedule.priority)
                outcomes.append(ScheduleOutcome(schedule: name, slot: slot, workflow: key, action: .started))
            }
        }
        return outcomes
    }

    /// An earlier slot's workflow of `schedule` that is queued or running (it has a ready entry).
    private func runningSlot(of schedule: ScheduleDefinition, before slot: Date) async throws -> WorkflowKey? {
        for entry in try await records.entries(in: schedule.queue) where entry.key.tenant == schedule.tenant {
            if let earlier = schedule.spec.slot(ofWorkflowID: entry.key.id), earlier < slot,
                let state = try await store.loadIfPresent(entry.key), !state.status.isFinished
            {
                return entry.key
            }
        }
        return nil
    }

    /// Runs ``startDueSlots(now:previousPass:)`` at every slot's time (and at least every second, so that
    /// added and removed schedules are seen) until the calling task is cancelled. A failed
    /// pass is logged and retried at the next wake-up; a schedule that cannot be read or whose
    /// type is not registered is logged once at `warning`, `info` for each started slot.
    func runSchedules(logger: Logger) async {
        guard let schedules = scheduleStore else { return }
        let warned = Locked<Set<String>>([])
        func warnOnce(_ message: String) {
            if warned.withLock({ $0.insert(message).inserted }) { logger.warning("\(message)") }
        }
        var previousPass: Date?
        while !Task.isCancelled {
            let now = Date()
            do {
                for outcome in try await startDueSlots(now: now, previousPass: previousPass) {
                    switch outcome.action {
                    case .started:
                        logger.debug("schedule slot due", metadata: ["schedule": "\(outcome.schedule)", "workflow": "\(outcome.workflow.map { "\($0)" } ?? "")"])
                    case .skippedOverlap(let running):
                        logger.info("schedule slot skipped: an earlier slot runs", metadata: ["schedule": "\(outcome.schedule)", "running": "\(running)"])
                    case .typeNotRegistered(let type):
                        warnOnce("schedule \(outcome.schedule) starts workflow type \(type), which this runtime does not register")
                    case .unreadable(let reason):
                        warnOnce("schedule \(outcome.schedule) cannot be read: \(reason)")
                    }
                }
                previousPass = now  // a failed pass is retried from the last good one
            } catch {
                warnOnce("scheduler pass failed: \(error)")
            }
            var wake = Date().addingTimeInterval(1)
            if let all = try? await schedules.all() {
                for case .success(let schedule) in all.map(\.schedule) {
                    if let next = schedule.spec.next(after: Date()), next < wake { wake = next }
                }
            }
            let delay = max(0.001, wake.timeIntervalSinceNow)
            do {
                try await Task.sleep(for: .milliseconds(Int64(delay * 1000) + 1))
            } catch {
                return
            }
        }
    }
}
