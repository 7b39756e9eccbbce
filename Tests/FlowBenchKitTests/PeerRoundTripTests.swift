import FlowBenchKit
import FlowOrchestrator
import Foundation
import Testing

/// The protobuf and SQLite peers keep a state exactly as the FlatBuffers snapshot does.
@Suite struct PeerRoundTripTests {
    /// A state using every field: unicode names and text, empty and absent outputs, optional
    /// fields set and unset, workflow data (one empty value), a node with its retry budget in use.
    static func richState() throws -> WorkflowState {
        let created = Date(timeIntervalSinceReferenceDate: 812_345_678.123_456)
        var state = WorkflowState(
            id: "rt-ünïcødé", tenant: "täñant", fingerprint: "fnv1a64:0123456789abcdef",
            nodeNames: ["fetch", "naïve-ß", "日本語", "empty", "absent", "budget"], input: Data("{\"q\":\"✓\"}".utf8),
            definition: Data("definition bytes".utf8), createdAt: created)
        state.status = .failed
        state.updatedAt = created.addingTimeInterval(61.000_001)
        state.lastSequence = 987_654_321_012
        state.reason = "node 日本語 failed: ∅"
        state.recoveries = 3
        state.data = ["key": Data([0, 1, 2, 255]), "空": Data()]
        state.nodes[0].status = .completed
        state.nodes[0].attempts = 2
        state.nodes[0].startedAt = created.addingTimeInterval(0.25)
        state.nodes[0].endedAt = created.addingTimeInterval(1.5)
        state.nodes[0].output = Data((0..<300).map { UInt8(truncatingIfNeeded: $0) })
        state.nodes[1].status = .skipped
        state.nodes[1].lastError = "skipped: dependency naïve failed ☹"
        state.nodes[2].status = .failed
        state.nodes[2].attempts = 4
        state.nodes[2].lastError = "exit 1 — ошибка"
        state.nodes[2].startedAt = created
        state.nodes[2].endedAt = created.addingTimeInterval(2)
        state.nodes[3].status = .completed
        state.nodes[3].output = Data()
        state.nodes[4].status = .cancelled
        state.nodes[4].output = nil
        // A node whose budget is in use, as a crash leaves it: only events set these fields.
        let start = WorkflowEvent(
            sequence: state.lastSequence + 1, time: created.addingTimeInterval(3),
            change: .nodeStarted(node: "budget", attempt: 1), nodeIndex: 5)
        try state.apply(start)
        let crash = WorkflowEvent(
            sequence: state.lastSequence + 1, time: created.addingTimeInterval(4),
            change: .nodeCrashed(node: "budget", attempt: 1, error: "cut short by a crash"), nodeIndex: 5)
        try state.apply(crash)
        try state.apply(
            WorkflowEvent(
                sequence: state.lastSequence + 1, time: created.addingTimeInterval(5),
                change: .nodeStarted(node: "budget", attempt: 2), nodeIndex: 5))
        return state
    }

    static func roundTrip(_ codec: any StateCodec, _ state: WorkflowState) throws -> WorkflowState {
        let bytes = try codec.encode(state)
        return try bytes.withUnsafeBytes { raw in
            let aligned = AlignedBytes(copying: raw)
            return try codec.decode(aligned.bytes)
        }
    }

    @Test func theRichStateUsesTheFieldsItClaims() throws {
        let state = try Self.richState()
        #expect(state.nodes[5].countedAttempts == 2 && state.nodes[5].crashedAttempts == 1 && state.nodes[5].attemptOpen)
        #expect(state.nodes[3].output == Data() && state.nodes[4].output == nil)
    }

    @Test func protobufKeepsWhatFlatBuffersKeeps() throws {
        let state = try Self.richState()
        let flat = try Self.roundTrip(FlatBuffersStateCodec(), state)
        let proto = try Self.roundTrip(ProtobufStateCodec(), state)
        #expect(flat == state)
        #expect(proto == state)
        #expect(proto == flat)
        #expect(proto.nodes[3].output == Data())
        #expect(proto.nodes[4].output == nil)
        #expect(proto.nodes[5].countedAttempts == 2)
    }

    @Test func protobufRefusesBytesThatAreNoState() throws {
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF]
        #expect(throws: FlowError.self) { try garbage.withUnsafeBytes { try ProtobufStateCodec().decode($0) } }
    }

    @Test(arguments: [Durability.fsync, .buffered])
    func sqliteKeepsWhatFlatBuffersKeeps(_ durability: Durability) async throws {
        let directory = NSTemporaryDirectory() + "peer-roundtrip-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try Self.richState()
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        let store = try SQLiteStore(directory: directory)
        try await store.withWriter(key) { try await $0.save(state, durability: durability) }
        let loaded = try await store.load(key)
        #expect(loaded == state)
        #expect(loaded == (try Self.roundTrip(FlatBuffersStateCodec(), state)))
        // Reopened: what was committed is in the file.
        let reopened = try await SQLiteStore(directory: directory).load(key)
        #expect(reopened == state)
    }

    @Test func sqliteAppendsUpdateTheRowsAsApplyingTheEventsDoes() async throws {
        let directory = NSTemporaryDirectory() + "peer-append-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var state = try Self.richState()
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        let store = try SQLiteStore(directory: directory)
        let writer = try await store.acquireWriter(key)
        try await writer.save(state, durability: .fsync)
        let time = state.updatedAt.addingTimeInterval(1)
        let events = [
            WorkflowEvent(sequence: state.lastSequence + 1, time: time, change: .nodeCompleted(node: "budget", output: Data("✓".utf8)), nodeIndex: 5),
            WorkflowEvent(sequence: state.lastSequence + 2, time: time, change: .dataSet(key: "key", value: nil)),
            WorkflowEvent(sequence: state.lastSequence + 3, time: time, change: .nodeReset(node: "日本語"), nodeIndex: 2),
            WorkflowEvent(sequence: state.lastSequence + 4, time: time, change: .workflowFinished(status: .completed, reason: nil)),
        ]
        try await writer.append(Array(events.prefix(2)), durability: .buffered)
        try await writer.append(Array(events.suffix(2)), durability: .fsync)
        try await writer.append([], durability: .fsync)
        try state.apply(events)
        await writer.release()
        let loaded = try await SQLiteStore(directory: directory).load(key)
        #expect(loaded == state)
        #expect(loaded.data["key"] == nil && loaded.nodes[5].output == Data("✓".utf8))
    }

    @Test func sqliteFencesOffAnEarlierWriter() async throws {
        let directory = NSTemporaryDirectory() + "peer-fence-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try Self.richState()
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        let first = try SQLiteStore(directory: directory)
        let old = try await first.acquireWriter(key)
        try await old.save(state, durability: .fsync)
        // A second store on the same file (another process, say) takes the workflow over.
        let second = try SQLiteStore(directory: directory)
        let new = try await second.acquireWriter(key)
        await #expect(throws: FlowError.self) { try await old.save(state, durability: .fsync) }
        var changed = state
        changed.reason = "newer"
        try await new.save(changed, durability: .fsync)
        #expect(try await first.load(key).reason == "newer")
    }
}
