import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// Replay reads a journal in pieces; whatever the piece size, it must come to exactly what
/// reading the whole journal does: the same state, good end, record count, cut tail and damage,
/// and the same error for a journal it refuses.
@Suite("Journal streaming")
struct JournalStreamingTests {
    private let key = try! WorkflowKey(tenant: "acme", id: "wf")
    private let io = FileIO(layer: SystemFileLayer())

    /// A journaled workflow whose records vary in size, some larger than the small pieces used
    /// below; returns the initial state and the journal's path.
    private func journal(in directory: String) async throws -> (WorkflowState, String) {
        let names = (0..<6).map { "node-\($0)" }
        let initial = WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: names)
        let store = try FlatBuffersStore(directory: directory)
        let writer = try await store.acquireWriter(key)
        try await writer.save(initial, durability: .fsync)
        var sequence: UInt64 = 0
        func event(_ change: WorkflowEvent.Change, _ node: Int) -> WorkflowEvent {
            sequence += 1
            return WorkflowEvent(
                sequence: sequence, time: Date(microsecondsSince1970: 1_000_000 + Int64(sequence)), change: change,
                nodeIndex: Int32(node))
        }
        for round in 0..<4 {
            var batch: [WorkflowEvent] = []
            for (index, name) in names.enumerated() {
                batch.append(event(.nodeStarted(node: name, attempt: round + 1), index))
                let size = [0, 3, 90, 700, 2_500, 9_000][(index + round) % names.count]
                batch.append(event(.nodeCompleted(node: name, output: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) })), index))
            }
            try await writer.append(batch, durability: .buffered)
        }
        await writer.release()
        return (initial, store.directory(for: key) + "/journal.log")
    }

    /// The outcome's fields, or the error's description: what the two readings must agree on.
    private func reading(_ body: () throws -> JournalReader.Outcome) -> String {
        do {
            let outcome = try body()
            return "state \(outcome.state.lastSequence) \(outcome.state.nodes.map { "\($0.status)\($0.output?.count ?? -1)" }) "
                + "exists \(outcome.journalExists) end \(outcome.goodEnd) records \(outcome.records) "
                + "cut \(outcome.cutTail.map { "\($0.offset) \($0.message)" } ?? "-") before \(outcome.damageBeforeTail) "
                + "base \(outcome.baseSequence) last \(outcome.journalEnd)"
        } catch {
            let error = error.asFlowError
            return "error \(error.code) \(error.message) \(error.offset.map(String.init) ?? "-")"
        }
    }

    /// Every piece size against the whole reading, with and without salvage.
    private func expectSame(_ initial: WorkflowState, _ path: String, _ context: String) {
        for salvage in [false, true] {
            let whole = reading {
                try JournalReader(io: io, salvage: salvage, logger: nil).replayWhole(onto: initial, journal: path, maxBytes: 1 << 30)
            }
            for piece in [24, 40, 64, 200, 1_000, 4_096, 1 << 22] {
                var reader = JournalReader(io: io, salvage: salvage, logger: nil)
                reader.pieceBytes = piece
                let streamed = reading { try reader.replay(onto: initial, journal: path, maxBytes: 1 << 30) }
                #expect(streamed == whole, "\(context), piece \(piece), salvage \(salvage)")
            }
        }
    }

    @Test("an intact journal replays the same in pieces of any size as whole")
    func intact() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (initial, path) = try await journal(in: directory.path)
        let whole = reading { try JournalReader(io: io, salvage: false, logger: nil).replayWhole(onto: initial, journal: path, maxBytes: 1 << 30) }
        #expect(whole.hasPrefix("state 48 "), "\(whole)")
        expectSame(initial, path, "intact")
    }

    @Test("cut tails, zero fill, bit flips and a repeated record read the same in pieces as whole")
    func damaged() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (initial, path) = try await journal(in: directory.path)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        func variant(_ bytes: Data, _ context: String) throws {
            try bytes.write(to: URL(fileURLWithPath: path))
            expectSame(initial, path, context)
        }
        // Cut at offsets spread over the file (frame boundaries and inside frames).
        for cut in stride(from: 0, to: original.count, by: max(1, original.count / 37)) {
            try variant(original.prefix(cut), "cut at \(cut)")
        }
        try variant(original + Data(count: 5_000), "zero fill after the last record")
        try variant(original.prefix(original.count / 2) + Data(count: 3_000) + original.suffix(original.count / 2), "zero fill inside")
        for position in [30, original.count / 3, original.count / 2, original.count - 20] {
            var flipped = original
            flipped[position] ^= 0x10
            try variant(flipped, "bit flip at \(position)")
        }
        // The last frame repeated: intact frames whose sequence numbers step back.
        let last = original.suffix(80)
        try variant(original + last, "a record repeated")
    }

    @Test("a missing journal and one over the size limit are reported as before")
    func missingAndTooLarge() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (initial, path) = try await journal(in: directory.path)
        let reader = JournalReader(io: io, salvage: false, logger: nil)
        #expect(reading { try reader.replay(onto: initial, journal: path, maxBytes: 100) }
            == reading { try reader.replayWhole(onto: initial, journal: path, maxBytes: 100) })
        #expect(reading { try reader.replay(onto: initial, journal: path, maxBytes: 100) }.hasPrefix("error corrupt data"))
        let missing = reading { try reader.replay(onto: initial, journal: path + ".absent", maxBytes: 1 << 20) }
        #expect(missing.contains("exists false"), "\(missing)")
    }
}
