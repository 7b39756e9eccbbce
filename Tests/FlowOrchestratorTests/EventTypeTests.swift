import FBSchema
import Foundation
import Testing

@testable import FlowOrchestrator

/// One event of every kind, over nodes `a`, `b` and `c`, numbered from 1.
private func everyKind() -> [WorkflowEvent] {
    let changes: [(WorkflowEvent.Change, Int32)] = [
        (.workflowStarted(status: .running), -1),
        (.nodeStarted(node: "a", attempt: 1), 0),
        (.nodeCompleted(node: "a", output: Data([0, 1, 0xFF])), 0),
        (.nodeStarted(node: "b", attempt: 1), 1),
        (.nodeRetried(node: "b", attempt: 1, delay: .microseconds(1_250_001), error: "exit 1"), 1),
        (.nodeStarted(node: "b", attempt: 2), 1),
        (.nodeFailed(node: "b", attempt: 2, error: "exit 2: naïve ☃"), 1),
        (.nodeSkipped(node: "c", reason: "dependency b failed"), 2),
        (.dataSet(key: "rows", value: Data("42".utf8)), -1),
        (.dataSet(key: "rows", value: nil), -1),
        (.dataSet(key: "", value: Data()), -1),
        (.nodeReset(node: "b"), 1),
        (.nodeMarkedCompleted(node: "b", output: Data()), -1),
        (.nodeStarted(node: "c", attempt: 1), 2),
        (.nodeCancelled(node: "c"), 2),
        (.nodeFailed(node: "c", attempt: nil, error: ""), 2),
        (.workflowFinished(status: .failed, reason: "node c failed"), -1),
        (.nodeInterrupted(node: "a", attempt: nil), 0),
        (.nodeInterrupted(node: "b", attempt: 3), 1),
        (.nodeCrashed(node: "c", attempt: 2, error: "attempt 2 was cut short by a crash"), 2),
    ]
    return changes.enumerated().map { index, change in
        WorkflowEvent(
            sequence: UInt64(index + 1), time: Date(microsecondsSince1970: 1_700_000_000_000_000 + Int64(index)),
            change: change.0, nodeIndex: change.1)
    }
}

@Suite("The public event type")
struct EventTypeTests {
    @Test("every kind of change survives the journal codec unchanged, node index hint included")
    func journalRoundTrip() throws {
        let events = everyKind()
        #expect(Set(events.map(\.kind)) == Set(WorkflowEvent.Kind.allCases))
        let frames = try JournalCodec.encode(events)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: frames.count, alignment: 8)
        defer { buffer.deallocate() }
        frames.withBytes { buffer.copyMemory(from: $0) }
        frames.free()
        let scan = JournalCodec.scanFrames(UnsafeRawBufferPointer(buffer), from: 0)
        #expect(scan.damage == nil)
        #expect(scan.events == events)
        #expect(scan.events.map(\.nodeIndex) == events.map(\.nodeIndex))
    }

    @Test("kind names, node accessors and replay follow the change")
    func accessorsAndReplay() throws {
        let events = everyKind()
        #expect(events.map(\.kind.description).prefix(3) == ["workflow.started", "node.started", "node.completed"])
        #expect(events[12].kind.description == "node.marked_completed")
        #expect(events[8].kind.description == "data.set")
        #expect(events.map(\.node) == [nil, "a", "a", "b", "b", "b", "b", "c", nil, nil, nil, "b", "b", "c", "c", "c", nil, "a", "b", "c"])
        var state = WorkflowState(id: "wf", tenant: "acme", fingerprint: "fp", nodeNames: ["a", "b", "c"])
        try state.apply(events)
        #expect(state.status == .failed && state.reason == "node c failed")
        #expect(state.nodes[0].output == Data([0, 1, 0xFF]) && state.nodes[0].status == .interrupted)
        #expect(state.nodes[1].status == .interrupted && state.nodes[1].attempts == 2 && state.nodes[1].lastError == nil)
        #expect(state.nodes[2].status == .interrupted && state.nodes[2].lastError == "" && state.nodes[2].crashedAttempts == 1)
        #expect(state.data == ["": Data()])
        #expect(state.lastSequence == UInt64(events.count))
    }

    @Test("a wrong node index hint falls back to the name; an unknown name is corruptData")
    func hintAndUnknownNode() throws {
        var state = WorkflowState(id: "wf", tenant: "acme", fingerprint: "fp", nodeNames: ["a", "b"])
        let misplaced = WorkflowEvent(
            sequence: 1, time: Date(microsecondsSince1970: 1), change: .nodeStarted(node: "b", attempt: 1), nodeIndex: 0)
        try state.apply(misplaced)
        #expect(state.nodes[1].status == .running && state.nodes[0].status == .pending)
        let unknown = WorkflowEvent(sequence: 2, time: Date(microsecondsSince1970: 2), change: .nodeReset(node: "z"))
        let error = #expect(throws: FlowError.self) { try state.apply(unknown) }
        #expect(error?.code == .corruptData)
        #expect(error?.message.contains("\"z\"") == true)
    }

    @Test("a verified record that lacks what its kind needs is corruptData, never cut as a torn tail")
    func recordMissingNodeIsAnError() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = WorkflowState(id: "wf", tenant: "default", fingerprint: "fp", nodeNames: ["a"])
        var record = fbs_record_in()
        record.sequence = 1
        record.time_us = 5
        record.kind = FBS_EVENT_NODE_STARTED
        record.node_index = 0
        record.attempt = 1
        let absent = fbs_slice(offset: 0, length: FBS_ABSENT)
        (record.node, record.error, record.key, record.payload) = (absent, absent, absent, absent)
        var frames = fbs_buffer()
        var error = fbs_error()
        try #require(fbs_records_encode(&record, 1, nil, 0, &frames, &error) == FBS_OK)
        let journal = JournalCodec.header(base: 0) + Array(UnsafeRawBufferPointer(start: frames.data, count: frames.size))
        fbs_buffer_free(&frames)
        let workflow = "\(directory.path)/default/wf"
        try FileManager.default.createDirectory(atPath: workflow, withIntermediateDirectories: true)
        try Data(try SnapshotEncoding.compressedSnapshot(state)).write(to: URL(fileURLWithPath: "\(workflow)/snapshot.fb.zst"))
        try Data(journal).write(to: URL(fileURLWithPath: "\(workflow)/journal.log"))
        let store = try FlatBuffersStore(directory: directory.path)
        let thrown = await #expect(throws: FlowError.self) { try await store.load(WorkflowKey(id: "wf")) }
        #expect(thrown?.code == .corruptData)
        #expect(thrown?.message.contains("has no node") == true)
    }
}
