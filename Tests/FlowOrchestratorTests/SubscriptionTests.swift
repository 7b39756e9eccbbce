import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// The subscription calls of ``EventStore`` on both journaling stores: waiting for a workflow
/// that does not exist yet, and ending for a position past a finished workflow's end.
@Suite("Event subscriptions")
struct SubscriptionTests {
    enum Kind: String, CaseIterable, Sendable { case files, memory }

    static func dag() throws -> DAG {
        var dag = DAG()
        try dag.addNode("a") { _ in .text("A") }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .text("B") }
        return dag
    }

    /// Collects a stream's events; fails the test instead of hanging if it does not end within
    /// `limit` (a safety net for the defect under test, not a timing of the behaviour).
    static func collect(
        _ stream: AsyncThrowingStream<WorkflowEvent, any Error>, limit: Duration = .seconds(60)
    ) async throws -> [WorkflowEvent]? {
        try await withThrowingTaskGroup(of: [WorkflowEvent]?.self) { group in
            group.addTask {
                var events: [WorkflowEvent] = []
                for try await event in stream { events.append(event) }
                return events
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// Waits (yielding, up to a deadline) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("condition never held"); return }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    static func store(_ kind: Kind, _ directory: TemporaryDirectory) throws -> any EventStore {
        switch kind {
        case .files: try FlatBuffersStore(directory: directory.path)
        case .memory: InMemoryStore()
        }
    }

    @Test("the two subscription calls share EventSubscription.default")
    func defaults() {
        let defaults = EventSubscription.default
        #expect(defaults == EventSubscription())
        #expect(defaults.follow && defaults.untilFinished)
        #expect(defaults.pollInterval == .milliseconds(20))
    }

    @Test("subscribing to a workflow that does not exist yet waits for it; its events then arrive", arguments: Kind.allCases)
    func waitsForCreation(_ kind: Kind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try Self.store(kind, directory)
        let key = try WorkflowKey(id: "later")
        let stream = store.events(key)
        let collected = Task { try await Self.collect(stream) }
        // The subscription has looked and found nothing (not a fixed delay: its own signal).
        switch store {
        case let files as FlatBuffersStore: try await Self.eventually { files.subscriptionWaits.load(ordering: .relaxed) > 0 }
        case let memory as InMemoryStore: try await Self.eventually { memory.waitingSubscriptions > 0 }
        default: Issue.record("unexpected store")
        }
        let result = try await Workflow(key: key, dag: try Self.dag(), store: store).execute()
        #expect(result.status == .completed)
        let events = try #require(try await collected.value, "the subscription did not end after the workflow finished")
        #expect(events.map(\.sequence) == Array(1...result.state.lastSequence))
        #expect(events.last?.kind == .workflowFinished)
        #expect(events.first?.kind == .workflowStarted)
    }

    @Test("without follow, a workflow that does not exist is notFound", arguments: Kind.allCases)
    func notFoundWithoutFollow(_ kind: Kind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try Self.store(kind, directory)
        let error = await #expect(throws: FlowError.self) {
            _ = try await Self.collect(store.events(try WorkflowKey(id: "never"), follow: false))
        }
        #expect(error?.code == .notFound)
    }

    @Test("a position past a finished workflow's end gets an ended sequence, for a consumer too", arguments: Kind.allCases)
    func pastTheEnd(_ kind: Kind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try Self.store(kind, directory)
        let key = try WorkflowKey(id: "done")
        let result = try await Workflow(key: key, dag: try Self.dag(), store: store).execute()
        let last = result.state.lastSequence
        #expect(try await Self.collect(store.events(key, from: last + 1)) == [])
        #expect(try await Self.collect(store.events(key, from: last + 5)) == [])
        // From inside the history: up to the end, then it ends.
        #expect(try await Self.collect(store.events(key, from: last))?.map(\.sequence) == [last])

        try await store.acknowledge("indexer", for: key, through: 2)
        #expect(try await store.position(of: "indexer", for: key) == 2)
        try await store.acknowledge("indexer", for: key, through: 1)
        #expect(try await store.position(of: "indexer", for: key) == 2, "positions never move backwards")
        #expect(try await Self.collect(try await store.events(key, consumer: "indexer"))?.first?.sequence == 3)
        try await store.acknowledge("indexer", for: key, through: last)
        #expect(try await Self.collect(try await store.events(key, consumer: "indexer")) == [])
        let bad = await #expect(throws: FlowError.self) { try await store.position(of: "../x", for: key) }
        #expect(bad?.code == .invalidID)
    }

    @Test("a follower sees events appended after it caught up, in order, once each", arguments: Kind.allCases)
    func followsNewEvents(_ kind: Kind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try Self.store(kind, directory)
        let key = try WorkflowKey(id: "twice")
        let first = try await Workflow(key: key, dag: try Self.dag(), store: store).execute()
        // Follow without ending at a finish, from the start; then a reset and a second run add events.
        let stream = store.events(key, from: 1, follow: true, untilFinished: false)
        let received = Mutex<[WorkflowEvent]>([])
        let reader = Task {
            for try await event in stream {
                received.withLock { $0.append(event) }
            }
        }
        try await Self.eventually { received.withLock { $0.count } == Int(first.state.lastSequence) }
        _ = try await Workflow(key: key, dag: try Self.dag(), store: store).reset(node: "a", includingDescendants: true)
        let second = try await Workflow(key: key, dag: try Self.dag(), store: store).execute()
        try await Self.eventually { received.withLock { $0.count } == Int(second.state.lastSequence) }
        reader.cancel()
        #expect(received.withLock { $0.map(\.sequence) } == Array(1...second.state.lastSequence))
    }
}
