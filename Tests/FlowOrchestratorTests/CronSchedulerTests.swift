import Foundation
import Testing

@testable import FlowOrchestrator

/// The scheduler's passes at given times (no clock, no sleeps): the slot's ID is the guard,
/// the latest missed slot runs once, overlap, stored schedules.
@Suite("Cron scheduler")
struct CronSchedulerTests {
    private static func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    /// A one-node type; the runtime under test never runs it (no `run()`), only queues it.
    private static func runtime(_ directory: TemporaryDirectory) throws -> WorkflowRuntime {
        WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path))
    }

    private static func register(_ runtime: WorkflowRuntime) async throws {
        try await runtime.register(WorkflowType(name: "job") { _ in
            var dag = DAG()
            try dag.addNode("only") { _ in .empty }
            return dag
        })
    }

    private static func queuedIDs(_ runtime: WorkflowRuntime) async throws -> [String] {
        try await runtime.queued().map(\.entry.key.id).sorted()
    }

    @Test("two runtimes on one store start a due slot once, under the slot's ID")
    func slotOncePerStore() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let one = try Self.runtime(directory)
        let two = try Self.runtime(directory)
        try await Self.register(one)
        try await Self.register(two)
        let spec = try ScheduleSpec(name: "tick", every: .seconds(10), overlap: .allow)
        try await FileScheduleStore(store: try FlatBuffersStore(directory: directory.path))
            .save(ScheduleDefinition(spec: spec, type: "job", created: Self.at(1000)))
        let first = try await one.startDueSlots(now: Self.at(1005))
        #expect(first.map(\.action) == [.started])
        #expect(first.first?.workflow?.id == "tick-19700101T001640Z")
        // The other runtime at the same moment, and the first one again: nothing new.
        _ = try await two.startDueSlots(now: Self.at(1005.5))
        _ = try await one.startDueSlots(now: Self.at(1009))
        #expect(try await Self.queuedIDs(one) == ["tick-19700101T001640Z"])
        // The next slot, from either runtime.
        _ = try await two.startDueSlots(now: Self.at(1010))
        _ = try await one.startDueSlots(now: Self.at(1010.2))
        #expect(try await Self.queuedIDs(one) == ["tick-19700101T001640Z", "tick-19700101T001650Z"])
    }

    @Test("a pass soon after the previous one starts every slot in between; after a long gap only the latest")
    func passesInBetween() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let runtime = try Self.runtime(directory)
        try await Self.register(runtime)
        let spec = try ScheduleSpec(name: "tick", every: .seconds(1), overlap: .allow)
        try await FileScheduleStore(store: try FlatBuffersStore(directory: directory.path))
            .save(ScheduleDefinition(spec: spec, type: "job", created: Self.at(1000)))
        _ = try await runtime.startDueSlots(now: Self.at(1000.2))
        // A pass 3.3 s late (a loaded machine): the three slots since the previous pass.
        let late = try await runtime.startDueSlots(now: Self.at(1003.5), previousPass: Self.at(1000.2))
        #expect(late.compactMap(\.workflow?.id) == ["tick-19700101T001641Z", "tick-19700101T001642Z", "tick-19700101T001643Z"])
        // 60 s of downtime: only the latest slot.
        let after = try await runtime.startDueSlots(now: Self.at(1063.5), previousPass: Self.at(1003.5))
        #expect(after.compactMap(\.workflow?.id) == ["tick-19700101T001743Z"])
        #expect(try await Self.queuedIDs(runtime).count == 5)
    }

    @Test("after downtime only the latest missed slot within the window starts; none before the schedule was added")
    func catchUp() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let runtime = try Self.runtime(directory)
        try await Self.register(runtime)
        let schedules = FileScheduleStore(store: try FlatBuffersStore(directory: directory.path))
        let hourly = try ScheduleSpec(
            name: "hourly", timing: .cron(CronExpression("0 * * * *")), overlap: .allow, catchUpWindow: .seconds(1800))
        // Added at 01:30; the process comes back at 04:20 (slots 02:00, 03:00, 04:00 missed).
        try await schedules.save(ScheduleDefinition(spec: hourly, type: "job", created: Self.at(5400)))
        _ = try await runtime.startDueSlots(now: Self.at(4 * 3600 + 1200))
        #expect(try await Self.queuedIDs(runtime) == ["hourly-19700101T040000Z"])
        _ = try await runtime.startDueSlots(now: Self.at(4 * 3600 + 1300))
        #expect(try await Self.queuedIDs(runtime) == ["hourly-19700101T040000Z"])
        // Back at 05:40: the 05:00 slot is 40 minutes old, outside the window: nothing.
        #expect(try await runtime.startDueSlots(now: Self.at(5 * 3600 + 2400)).isEmpty)
        // A schedule added at 05:50 does not start the 05:00 slot, although it is in the window.
        let late = try ScheduleSpec(
            name: "late", timing: .cron(CronExpression("0 * * * *")), overlap: .allow, catchUpWindow: .seconds(7200))
        try await schedules.save(ScheduleDefinition(spec: late, type: "job", created: Self.at(5 * 3600 + 3000)))
        #expect(try await runtime.startDueSlots(now: Self.at(5 * 3600 + 3100)).isEmpty)
        #expect(
            try await runtime.startDueSlots(now: Self.at(6 * 3600 + 1)).compactMap(\.workflow?.id).sorted()
                == ["hourly-19700101T060000Z", "late-19700101T060000Z"])
    }

    @Test("overlap skip: a slot is skipped while an earlier slot's workflow is queued; allow starts it")
    func overlap() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let runtime = try Self.runtime(directory)
        try await Self.register(runtime)
        let schedules = FileScheduleStore(store: try FlatBuffersStore(directory: directory.path))
        try await schedules.save(
            ScheduleDefinition(spec: try ScheduleSpec(name: "s", every: .seconds(60), overlap: .skip), type: "job", created: Self.at(0)))
        try await schedules.save(
            ScheduleDefinition(spec: try ScheduleSpec(name: "a", every: .seconds(60), overlap: .allow), type: "job", created: Self.at(0)))
        _ = try await runtime.startDueSlots(now: Self.at(60))
        let second = try await runtime.startDueSlots(now: Self.at(120))
        let byName = Dictionary(uniqueKeysWithValues: second.map { ($0.schedule, $0.action) })
        #expect(byName["a"] == .started)
        #expect(byName["s"] == .skippedOverlap(running: try WorkflowKey(id: "s-19700101T000100Z")))
        #expect(
            try await Self.queuedIDs(runtime)
                == ["a-19700101T000100Z", "a-19700101T000200Z", "s-19700101T000100Z"])
        // The earlier run ends (cancelled here): the next slot starts.
        try await runtime.cancel(try WorkflowKey(id: "s-19700101T000100Z"))
        _ = try await runtime.startDueSlots(now: Self.at(180))
        #expect(try await Self.queuedIDs(runtime).contains("s-19700101T000300Z"))
    }

    @Test("stored schedules read back; an unknown type or a damaged file is reported, not fatal")
    func storedSchedules() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let schedules = FileScheduleStore(store: store)
        let spec = try ScheduleSpec(
            name: "nightly", timing: .cron(CronExpression("30 2 * * *", timeZone: TimeZone(identifier: "Europe/Berlin")!)))
        let definition = ScheduleDefinition(
            spec: spec, type: "job", input: Data("in".utf8), definition: Data("def".utf8), queue: "q", priority: 3,
            created: Self.at(1_000_000))
        try await schedules.save(definition)
        #expect(try await schedules.load("nightly") == definition)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/.runtime/schedules/nightly.json"))
        try await schedules.save(ScheduleDefinition(spec: try ScheduleSpec(name: "other", every: .seconds(1)), type: "unknown"))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory.path + "/.runtime/schedules/broken.json"))
        let runtime = WorkflowRuntime(store: store)
        try await Self.register(runtime)
        let outcomes = try await runtime.startDueSlots(now: Date())
        let byName = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.schedule, $0.action) })
        #expect(byName["other"] == .typeNotRegistered("unknown"))
        if case .unreadable(let reason) = byName["broken"] {
            #expect(reason.contains("broken.json"))
        } else {
            Issue.record("a damaged schedule file was not reported: \(outcomes)")
        }
        #expect(try await schedules.remove("nightly"))
        #expect(try await !schedules.remove("nightly"))
        #expect(try await schedules.load("nightly") == nil)
        await #expect(throws: FlowError.self) { try await schedules.load("../x") }
    }
}
