import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

@Suite("Event history")
struct EventTests {
    /// A DAG of `count` nodes in levels of `width`, each needing the node `width` before it.
    private func dag(_ count: Int, width: Int = 50) throws -> DAG {
        var dag = DAG()
        for index in 0..<count {
            try dag.addNode("n\(index)", dependsOn: index >= width ? ["n\(index - width)"] : []) { context in
                .text(context.node)
            }
        }
        return dag
    }

    @Test("a subscriber attached mid-run gets every event exactly once, in order, across catch-up, live and compactions")
    func subscribeDuringRun() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(compactAfterRecords: 3_000))
        let recorded = Mutex<[WorkflowEvent]>([])
        let options = ExecutionOptions(
            persistence: .node, durability: .buffered, onEvent: { event in recorded.withLock { $0.append(event) } })
        let workflow = Workflow(key: try WorkflowKey(id: "big"), dag: try dag(10_000), store: store, options: options)
        let run = Task { try await workflow.execute() }
        // Attach once a few thousand events exist, so catching up crosses archived epochs.
        while recorded.withLock({ $0.count }) < 4_000 { try await Task.sleep(for: .milliseconds(2)) }
        var received: [WorkflowEvent] = []
        for try await event in try FlatBuffersStore(directory: directory.path).events(WorkflowKey(id: "big"), from: 1) {
            received.append(event)
        }
        let result = try await run.value
        #expect(result.status == .completed)
        let expected = recorded.withLock { $0 }
        #expect(received.count == expected.count)
        #expect(received.map(\.sequence) == Array(1...UInt64(expected.count)))
        #expect(received == expected)
        // Compaction happened, and the archived epochs hold what it folded away.
        let history = try FileIO(layer: SystemFileLayer()).list("\(directory.path)/default/big/history")
        #expect(history.count >= 4)
        #expect(try await store.history(WorkflowKey(id: "big")) == expected)
    }

    @Test("a follower in this process sees a workflow run by another process")
    func followAnotherProcess() async throws {
        let binary = builtExecutable("flow-crashtest")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = "\(directory.path)/store"
        let child = try Child(binary, [store, "remote", "\(directory.path)/marks", "300", "3", "7", "300"])
        let key = try WorkflowKey(id: "remote")
        // Wait for the workflow to exist, then follow it to its end.
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? await FlatBuffersStore(directory: store).loadIfPresent(key)) == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        var received: [WorkflowEvent] = []
        for try await event in try FlatBuffersStore(directory: store).events(key) { received.append(event) }
        #expect(await child.wait() == 0)
        #expect(received.map(\.sequence) == Array(1...UInt64(received.count)))
        #expect(received.last?.kind == .workflowFinished)
        #expect(received.filter { $0.kind == .nodeCompleted }.count == 300)
        #expect(try await FlatBuffersStore(directory: store).history(key) == received)
    }

    @Test("the state rebuilt at every sequence number equals the state the run had then")
    func timeTravel() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(compactAfterRecords: 17))
        let recorded = Mutex<[WorkflowEvent]>([])
        var dag = DAG()
        try dag.addNode("a") { context in
            try await context.setValue(Data("x".utf8), forKey: "k")
            return .text("A")
        }
        try dag.addNode("b", dependsOn: ["a"], retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1))) { context in
            if context.attempt < 3 { throw TestFailure("try again") }
            return .text("B")
        }
        for index in 0..<12 { try dag.addNode("c\(index)", dependsOn: ["b"]) { _ in .empty } }
        try dag.addNode("broken", dependsOn: ["a"]) { _ in throw TestFailure("no") }
        let options = ExecutionOptions(
            failurePolicy: .continueIndependent, persistence: .node, onEvent: { event in recorded.withLock { $0.append(event) } })
        let workflow = Workflow(key: try WorkflowKey(id: "tt"), dag: dag, store: store, options: options)
        let result = try await workflow.execute()
        let key = try WorkflowKey(id: "tt")
        let events = recorded.withLock { $0 }
        var expected = WorkflowState(
            id: "tt", tenant: "default", fingerprint: dag.fingerprint, nodeNames: dag.nodeNames,
            createdAt: result.state.createdAt)
        for sequence in 0...events.count {
            if sequence > 0 { try expected.apply(events[sequence - 1]) }
            let rebuilt = try await store.state(key, at: UInt64(sequence))
            #expect(rebuilt.nodes == expected.nodes, "nodes at \(sequence)")
            #expect(rebuilt.data == expected.data, "data at \(sequence)")
            #expect(rebuilt.status == expected.status, "status at \(sequence)")
            #expect(rebuilt.lastSequence == UInt64(sequence))
        }
        #expect(try await store.state(key, at: UInt64(events.count)) == result.state)
        let beyond = await #expect(throws: FlowError.self) { try await store.state(key, at: UInt64(events.count + 1)) }
        #expect(beyond?.code == .invalidArgument)
    }

    @Test("without kept history, compacted events are declared gone, not silently skipped")
    func historyGone() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(
            directory: directory.path, options: .init(compactAfterRecords: 10, keepHistory: false))
        _ = try await Workflow(key: try WorkflowKey(id: "short"), dag: try dag(30, width: 5), store: store, options: .init(persistence: .node))
            .execute()
        let key = try WorkflowKey(id: "short")
        let error = await #expect(throws: FlowError.self) { try await store.history(key) }
        #expect(error?.code == .historyUnavailable)
        #expect(error?.message.contains("not in its history") == true)
        // The events after the last compaction, if any: where the run's last compaction falls
        // depends on how the group commits went (under ThreadSanitizer it was the very end).
        let snapshot = try store.engine.loadSnapshot(key)!.state.lastSequence
        let last = try await store.load(key).lastSequence
        #expect(try await store.history(key, from: snapshot + 1).map(\.sequence) == Array((snapshot + 1)..<(last + 1)))
    }

    @Test("a consumer stopped mid-stream resumes after its last acknowledged event")
    func consumerCheckpoint() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(compactAfterRecords: 50))
        let result = try await Workflow(key: try WorkflowKey(id: "c"), dag: try dag(100, width: 10), store: store, options: .init(persistence: .node))
            .execute()
        let key = try WorkflowKey(id: "c")
        let total = result.state.lastSequence
        var handled: [UInt64] = []
        // First life: handle and acknowledge 77 events, receive one more without acknowledging it, stop.
        var first = try await FlatBuffersStore(directory: directory.path).events(key, consumer: "indexer", follow: false)
            .makeAsyncIterator()
        for _ in 0..<77 {
            let event = try #require(try await first.next())
            handled.append(event.sequence)
            try await store.acknowledge("indexer", for: key, through: event.sequence)
        }
        _ = try await first.next()
        #expect(try await store.position(of: "indexer", for: key) == 77)
        // Second life, with a new store object: picks up at 78.
        for try await event in try await FlatBuffersStore(directory: directory.path).events(key, consumer: "indexer", follow: false) {
            handled.append(event.sequence)
            try await store.acknowledge("indexer", for: key, through: event.sequence)
        }
        #expect(handled == Array(1...total))
        #expect(try await store.position(of: "indexer", for: key) == total)
        // Another consumer has its own position.
        #expect(try await store.position(of: "auditor", for: key) == 0)
        let bad = await #expect(throws: FlowError.self) { try await store.position(of: "../x", for: key) }
        #expect(bad?.code == .invalidID)
    }

    @Test("exported CloudEvents carry the attributes the 1.0 spec requires")
    func cloudEvents() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        var dag = DAG()
        try dag.addNode("fetch données") { _ in .text("ok") }
        try dag.addNode("fail", dependsOn: ["fetch données"]) { _ in throw TestFailure("boom") }
        let key = try WorkflowKey(tenant: "équipe", id: "wf 1")
        _ = try await Workflow(key: key, dag: dag, store: store, options: .init(persistence: .node))
            .execute()
        let events = try await store.history(key)
        let lines = events.map { CloudEvent.json($0, workflow: key) }
        var ids = Set<String>()
        let attributeName = try Regex("^[a-z0-9]{1,20}$")
        let rfc3339 = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"#)
        for (line, event) in zip(lines, events) {
            #expect(!line.contains("\n"))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            // Required: id, source, specversion, type.
            let id = try #require(object["id"] as? String)
            #expect(!id.isEmpty)
            #expect(ids.insert(id).inserted, "duplicate id \(id)")
            let source = try #require(object["source"] as? String)
            #expect(URL(string: source) != nil, "source \(source) is not a URI reference")
            #expect(object["specversion"] as? String == "1.0")
            let type = try #require(object["type"] as? String)
            #expect(type == "io.floworchestrator.\(event.kind)")
            // Optional ones we promise.
            let time = try #require(object["time"] as? String)
            #expect(time.wholeMatch(of: rfc3339) != nil, "time \(time)")
            #expect(object["workflowid"] as? String == "wf 1")
            #expect((object["sequence"] as? NSNumber)?.uint64Value == event.sequence)
            if let node = event.node { #expect(object["subject"] as? String == node) }
            for name in object.keys where name != "data" {
                #expect(name.wholeMatch(of: attributeName) != nil, "attribute name \(name)")
            }
        }
        let failed = try #require(lines.first { $0.contains("node.failed") })
        #expect(failed.contains("\"error\":\"boom\""))
    }
}
