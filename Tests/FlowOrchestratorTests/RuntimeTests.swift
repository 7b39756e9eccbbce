import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// The runtime (docs/adr/0011): idempotent starts, type versions, queues, claims, cancellation.
@Suite("Runtime")
struct RuntimeTests {
    /// A chain `a -> b` whose actions record `LABEL:ID:NODE`, running `body` inside `b`.
    static func chain(
        _ label: String, _ recorder: Recorder, names: [String] = ["a", "b"],
        inB: @escaping @Sendable (NodeContext) async throws -> Void = { _ in }
    ) -> WorkflowType.DAGBuilder {
        { _ in
            var dag = DAG()
            try dag.addNode(names[0]) { context in
                recorder.record("\(label):\(context.workflowID):\(context.node)")
                return .empty
            }
            try dag.addNode(names[1], dependsOn: [names[0]]) { context in
                try await recorder.running {
                    recorder.record("\(label):\(context.workflowID):\(context.node)")
                    try await inB(context)
                }
                return .empty
            }
            return dag
        }
    }

    static func options(_ workflows: Int = 4) -> RuntimeOptions {
        RuntimeOptions(
            maxConcurrentWorkflows: workflows, pollInterval: .milliseconds(10), cancelPollInterval: .milliseconds(20),
            shutdownGrace: .zero)
    }

    /// Runs `runtime.run()` beside `body`, then shuts it down and waits for it.
    static func running<T: Sendable>(
        _ runtimes: WorkflowRuntime..., body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for runtime in runtimes { group.addTask { try await runtime.run() } }
            do {
                let value = try await body()
                for runtime in runtimes { await runtime.shutdown() }
                try await group.waitForAll()
                return value
            } catch {
                for runtime in runtimes { await runtime.shutdown() }
                try await group.waitForAll()
                throw error
            }
        }
    }

    @Test("starting an ID twice runs it once; different input is refused")
    func idempotentStart() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        try await runtime.register(WorkflowType(name: "t", dag: Self.chain("v1", recorder)))
        let first = try await runtime.start("t", id: "w", input: Data("x".utf8))
        let second = try await runtime.start("t", id: "w", input: Data("x".utf8))
        #expect(first.key == second.key)
        let queued = try await runtime.queued()
        #expect(queued.map(\.entry.key.id) == ["w"])
        let final = try await Self.running(runtime) { try await first.result() }
        #expect(final.status == .completed)
        _ = try await runtime.start("t", id: "w", input: Data("x".utf8))
        try await Self.running(runtime) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(recorder.count("v1:w:a") == 1)
        #expect(try await runtime.queued().isEmpty)
        await #expect(throws: FlowError.self) { try await runtime.start("t", id: "w", input: Data("y".utf8)) }
    }

    @Test("versions run side by side; a workflow resumes on the version it started with")
    func versionsSideBySide() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let store = try FlatBuffersStore(directory: directory.path)
        let blocked = Gate()
        let old = WorkflowRuntime(store: store, options: Self.options())
        try await old.register(WorkflowType(name: "t", version: 1, dag: Self.chain("v1", recorder) { _ in
            blocked.open()
            // Until the shutdown interrupts the run.
            while true { try await Task.sleep(for: .seconds(60)) }
        }))
        let handle = try await old.start("t", id: "w")
        try await Self.running(old) { await blocked.wait() }
        #expect(try await handle.status() == .interrupted)

        let new = WorkflowRuntime(store: store, options: Self.options())
        try await new.register(WorkflowType(name: "t", version: 1, dag: Self.chain("v1", recorder)))
        try await new.register(WorkflowType(name: "t", version: 2, dag: Self.chain("v2", recorder, names: ["x", "y"])))
        let fresh = try await new.start("t", id: "fresh")
        let (resumed, started) = try await Self.running(new) { (try await handle.result(), try await fresh.result()) }
        #expect(resumed.status == .completed)
        #expect(started.status == .completed)
        #expect(recorder.count("v1:w:a") == 1, "the completed node ran again: \(recorder.all)")
        #expect(recorder.count("v1:w:b") == 2)
        #expect(recorder.all.contains("v2:fresh:x") && !recorder.all.contains { $0.hasPrefix("v2:w") })
        #expect(try await new.records.runRecord(try WorkflowKey(id: "w"))?.version == 1)
    }

    @Test("a workflow of an unknown version is left in its queue and listed with the reason")
    func unknownVersionStranded() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let store = try FlatBuffersStore(directory: directory.path)
        let newer = WorkflowRuntime(store: store, options: Self.options())
        try await newer.register(WorkflowType(name: "t", version: 3, dag: Self.chain("v3", recorder)))
        let handle = try await newer.start("t", id: "w")

        let older = WorkflowRuntime(store: store, options: Self.options())
        try await older.register(WorkflowType(name: "t", version: 1, dag: Self.chain("v1", recorder)))
        let stranded = try await Self.running(older) { () async throws -> [StrandedWorkflow] in
            let deadline = ContinuousClock.now + .seconds(30)
            while await older.stranded().isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            return await older.stranded()
        }
        #expect(stranded.map(\.key.id) == ["w"])
        #expect(stranded.first?.reason.contains("version 3") == true, "\(stranded)")
        #expect(stranded.first?.reason.contains("registered: 1") == true, "\(stranded)")
        #expect(try await handle.status() == .pending)
        #expect(try await older.queued().map(\.entry.key.id) == ["w"])
        #expect(recorder.all.isEmpty)
    }

    @Test("a delayed start does not start early")
    func delayedStart() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let started = Mutex<Date?>(nil)
        let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        try await runtime.register(WorkflowType(name: "t") { _ in
            var dag = DAG()
            try dag.addNode("a") { _ in
                started.withLock { $0 = Date() }
                return .empty
            }
            return dag
        })
        let notBefore = Date().addingTimeInterval(0.4)
        let handle = try await runtime.start("t", id: "later", notBefore: notBefore)
        #expect(try await runtime.queued().first?.entry.notBefore.microsecondsSince1970 == notBefore.microsecondsSince1970)
        let final = try await Self.running(runtime) { try await handle.result() }
        #expect(final.status == .completed)
        let at = try #require(started.withLock { $0 })
        #expect(at >= Date(microsecondsSince1970: notBefore.microsecondsSince1970))
    }

    @Test("a larger priority is claimed first")
    func priorityOrder() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options(1))
        try await runtime.register(WorkflowType(name: "t", dag: Self.chain("p", recorder)))
        var handles: [WorkflowHandle] = []
        for (id, priority) in [("low", -5), ("mid", 0), ("high", 10), ("mid2", 0), ("top", 20)] {
            handles.append(try await runtime.start("t", id: id, priority: priority))
        }
        try await Self.running(runtime) {
            for handle in handles { _ = try await handle.result() }
        }
        let order = recorder.all.filter { $0.hasSuffix(":a") }.map { $0.split(separator: ":")[1] }
        #expect(order == ["top", "high", "mid", "mid2", "low"])
    }

    @Test("a queue's limit holds across two runtimes on one store")
    func queueLimitAcrossRuntimes() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let store = try FlatBuffersStore(directory: directory.path)
        let one = WorkflowRuntime(store: store, options: Self.options())
        let two = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        for runtime in [one, two] {
            try await runtime.register(WorkflowType(name: "t", dag: Self.chain("q", recorder) { _ in
                try await Task.sleep(for: .milliseconds(20))
            }))
        }
        try await one.records.setQueueConfig(QueueConfig(limit: 2), for: "narrow")
        var handles: [WorkflowHandle] = []
        for index in 0..<8 { handles.append(try await one.start("t", id: "w\(index)", queue: "narrow")) }
        try await Self.running(one, two) {
            for handle in handles {
                let status = try await handle.result().status
                #expect(status == .completed)
            }
        }
        #expect(recorder.peak <= 2)
        #expect(recorder.peak >= 1)
        #expect(try await one.records.queueConfig("narrow") == QueueConfig(limit: 2))
    }

    @Test("a rate limit spaces the starts")
    func rateLimit() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let starts = Mutex<[Date]>([])
        let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        try await runtime.register(WorkflowType(name: "t") { _ in
            var dag = DAG()
            try dag.addNode("a") { _ in
                starts.withLock { $0.append(Date()) }
                return .empty
            }
            return dag
        })
        try await runtime.records.setQueueConfig(QueueConfig(rate: (count: 2, period: .milliseconds(600))), for: "slow")
        var handles: [WorkflowHandle] = []
        for index in 0..<4 { handles.append(try await runtime.start("t", id: "w\(index)", queue: "slow")) }
        let claimingFrom = Date()
        try await Self.running(runtime) {
            for handle in handles {
                let status = try await handle.result().status
                #expect(status == .completed)
            }
        }
        let times = starts.withLock { $0 }.sorted()
        try #require(times.count == 4)
        // A node starts after its workflow's claim, late by however long a loaded machine takes,
        // so node times cannot show the spacing between two claims; but no claim precedes
        // run(), and the third claim follows the first by the period, so the third node to
        // start cannot start before run() began plus the period (less the microseconds the
        // limiter rounds to).
        #expect(times[2].timeIntervalSince(claimingFrom) >= 0.599, "\(times)")
    }

    @Test("the rate limiter grants count starts per period and says when the next one may start")
    func rateLimiterWindow() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let records = FileRuntimeStore(store: try FlatBuffersStore(directory: directory.path))
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        func reserve(after seconds: Double) async throws -> Date? {
            try await records.reserveStart(
                queue: "slow", count: 2, period: .seconds(10), now: t0.addingTimeInterval(seconds))
        }
        #expect(try await reserve(after: 0) == nil)
        #expect(try await reserve(after: 4) == nil)
        // Two in the window: the third waits for the first to leave it.
        #expect(try await reserve(after: 5) == t0.addingTimeInterval(10))
        #expect(try await reserve(after: 9.999) == t0.addingTimeInterval(10))
        #expect(try await reserve(after: 10) == nil)
        // Now the starts at 4 and 10 are in the window.
        #expect(try await reserve(after: 13) == t0.addingTimeInterval(14))
        #expect(try await reserve(after: 14.5) == nil)
    }

    @Test("a running workflow is cancelled by a request from another runtime")
    func cancelRunning() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let inB = Gate()
        let owner = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        try await owner.register(WorkflowType(name: "t", dag: Self.chain("c", recorder) { _ in
            inB.open()
            while true { try await Task.sleep(for: .seconds(60)) }
        }))
        let handle = try await owner.start("t", id: "w")
        let other = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        let final = try await Self.running(owner) { () async throws -> WorkflowState in
            await inB.wait()
            try await other.cancel(try WorkflowKey(id: "w"), reason: "not needed")
            return try await handle.result()
        }
        #expect(final.status == .cancelled)
        #expect(final.reason == "not needed")
        #expect(final[node: "b"]?.status == .cancelled)
        #expect(try await owner.queued().isEmpty)
    }

    @Test("a queued workflow is cancelled without running")
    func cancelQueued() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let runtime = WorkflowRuntime(store: try FlatBuffersStore(directory: directory.path), options: Self.options())
        try await runtime.register(WorkflowType(name: "t", dag: Self.chain("c", recorder)))
        let handle = try await runtime.start("t", id: "w")
        let kept = try await runtime.start("t", id: "kept")
        try await handle.cancel()
        #expect(try await handle.status() == .cancelled)
        #expect(try await runtime.queued().map(\.entry.key.id) == ["kept"])
        _ = try await Self.running(runtime) { try await kept.result() }
        #expect(!recorder.all.contains { $0.contains(":w:") })
        #expect(try await handle.state().nodes.allSatisfy { $0.status == .cancelled })
        await #expect(throws: FlowError.self) { try await runtime.cancel(try WorkflowKey(id: "unknown")) }
    }

    @Test("an entry whose workflow is final is removed by the next claimer")
    func finalEntryRemoved() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let store = try FlatBuffersStore(directory: directory.path)
        let runtime = WorkflowRuntime(store: store, options: Self.options())
        try await runtime.register(WorkflowType(name: "t", dag: Self.chain("f", recorder)))
        let handle = try await runtime.start("t", id: "w")
        // A crash between the final status and the entry's removal: the entry is put back.
        let final = try await Self.running(runtime) { try await handle.result() }
        try await Self.running(runtime) { try await Task.sleep(for: .milliseconds(30)) }
        let record = try #require(try await runtime.records.runRecord(handle.key))
        try await runtime.records.enqueue(record.entry(for: handle.key))
        #expect(try await runtime.queued().count == 1)
        let again = WorkflowRuntime(store: store, options: Self.options())
        try await again.register(WorkflowType(name: "t", dag: Self.chain("f", recorder)))
        try await Self.running(again) {
            let deadline = ContinuousClock.now + .seconds(30)
            while try await !again.queued().isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(final.status == .completed)
        #expect(try await again.queued().isEmpty)
        #expect(recorder.count("f:w:a") == 1)
    }
}
