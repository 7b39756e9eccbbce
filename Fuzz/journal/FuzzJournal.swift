// libFuzzer target: replaying a workflow's journal onto its snapshot.
//
// The input is one flag byte, then the bytes of journal.log; the snapshot next to it is the
// fixture's state after its first `JournalHarness.snapshotSequence` events (valid, fixed).
// Flags:
//   bit 0  fix the checksums first: the header's CRC and every complete frame's CRC, so that
//          mutations reach the record checks and replay instead of dying at a CRC mismatch
//   bit 1  open the store with `salvage`
//   bit 2  then take the writer lock, append one event, release, and reopen: the event must be
//          there and the store must verify clean (cutting a damaged tail must not lose it)
//   bit 3  with bit 2: compact after every record (snapshot + new journal on that append)
//
// Findings (abort): a crash or sanitizer report; an error other than a FlowError saying the data
// is bad; load and verify disagreeing; an appended event lost or the store left unsound after
// an append; a replayed state that does not extend the snapshot.
import FBSchema
import Foundation

@testable import FlowOrchestrator

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    var journal = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let flags = data[0]
    if flags & 1 != 0 { JournalHarness.fixChecksums(&journal) }
    JournalHarness.run(
        journal: journal, salvage: flags & 2 != 0, append: flags & 4 != 0, compactEveryRecord: flags & 8 != 0)
    return 0
}

enum JournalHarness {
    /// The snapshot holds the fixture's first events; the journal seeds hold the rest.
    static let snapshotSequence = 4
    static let snapshotState = Fixture.state(through: snapshotSequence)
    static let snapshotFile: [UInt8] = {
        let (bytes, _) = try! FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 20)
            .encode(snapshotState)
        return bytes
    }()

    /// Recomputes the header CRC and the CRC of every complete frame, walking frames by their
    /// length fields.
    static func fixChecksums(_ bytes: inout [UInt8]) {
        let header = Int(FBS_JOURNAL_HEADER_SIZE)
        guard bytes.count >= header else { return }
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: fbs_crc32c(raw.baseAddress, 20, 0).littleEndian, toByteOffset: 20, as: UInt32.self)
            var position = header
            while position + 8 <= raw.count {
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                guard length >= 8, length <= raw.count - position - 8 else { return }
                let crc = fbs_crc32c(raw.baseAddress! + position + 8, length, 0)
                raw.storeBytes(of: crc.littleEndian, toByteOffset: position + 4, as: UInt32.self)
                position += 8 + (length + 7) & ~7
            }
        }
    }

    static func store(_ root: String, salvage: Bool, compact: Bool = false) -> FlatBuffersStore {
        do {
            return try FlatBuffersStore(
                directory: root, options: Fixture.options(salvage: salvage, compactAfterRecords: compact ? 1 : 200_000))
        } catch {
            finding("opening a store failed: \(error)")
        }
    }

    static func run(journal: [UInt8], salvage: Bool, append: Bool, compactEveryRecord: Bool) {
        let root = Scratch.root(
            "store",
            files: [("\(Fixture.directory)/snapshot.fb.zst", snapshotFile), ("\(Fixture.directory)/journal.log", journal)])
        let descriptors = Scratch.openDescriptors
        let store = store(root, salvage: salvage, compact: compactEveryRecord)
        let key = Fixture.key
        var loaded: WorkflowState?
        do {
            loaded = try blocking { try await store.load(key) }
        } catch {
            _ = expectDataError(error, "load with a damaged journal.log")
        }
        let problems: [StoreProblem]
        do {
            problems = try blocking { try await store.verify() }
        } catch {
            finding("verify threw on a damaged journal.log: \(error)")
        }
        guard let state = loaded else {
            if problems.isEmpty { finding("load refused journal.log but verify reports no problem") }
            return
        }
        // Verify reports damage the reader tolerates (a cut tail), as one journal problem.
        if problems.count > 1 || problems.contains(where: { !$0.path.hasSuffix("journal.log") }) {
            finding("load accepted journal.log but verify reports \(problems)")
        }
        checkExtendsSnapshot(state)
        checkHistory(state, store: store)
        if append { appendAndReopen(state, root: root, store: store) }
        if Scratch.openDescriptors != descriptors { finding("file descriptors leaked") }
    }

    /// A replayed state is the snapshot with events applied: same identity, nodes and input,
    /// a sequence number at or past the snapshot's.
    static func checkExtendsSnapshot(_ state: WorkflowState) {
        let base = snapshotState
        if state.id != base.id || state.tenant != base.tenant || state.fingerprint != base.fingerprint
            || state.nodes.map(\.name) != base.nodes.map(\.name) || state.input != base.input
            || state.definition != base.definition || state.createdAt != base.createdAt
            || state.lastSequence < base.lastSequence
        {
            finding("replay changed what a journal cannot change:\n\(difference(base, state))")
        }
        if state.lastSequence == base.lastSequence, state != base {
            finding("replay changed the state without applying an event:\n\(difference(base, state))")
        }
    }

    /// History and time travel read the same files as load: where they answer, they agree with
    /// it; where they refuse, they say why with a typed error.
    static func checkHistory(_ state: WorkflowState, store: FlatBuffersStore) {
        let base = snapshotState
        let key = Fixture.key
        func expectHistoryError(_ error: any Error, _ what: String) {
            guard let error = error as? FlowError,
                [.corruptData, .unsupportedFormat, .historyUnavailable].contains(error.code)
            else { finding("\(what) threw an unexpected error on a readable journal: \(error)") }
        }
        do {
            let events = try blocking { try await store.history(key, from: base.lastSequence + 1) }
            var replayed = base
            do {
                try replayed.apply(events)
            } catch {
                finding("history's events do not apply to the snapshot: \(error)")
            }
            if replayed != state { finding("history disagrees with load:\n\(difference(replayed, state))") }
        } catch {
            expectHistoryError(error, "history")
        }
        let middle = base.lastSequence + (state.lastSequence - base.lastSequence) / 2
        for sequence in Set([base.lastSequence, middle, state.lastSequence]) {
            do {
                let past = try blocking { try await store.state(key, at: sequence) }
                if past.lastSequence != sequence { finding("state(at: \(sequence)) is at \(past.lastSequence)") }
                if sequence == state.lastSequence, past != state {
                    finding("state(at: last) differs from load:\n\(difference(past, state))")
                }
                if sequence == base.lastSequence, past != base {
                    finding("state(at: snapshot) differs from the snapshot:\n\(difference(past, base))")
                }
            } catch {
                expectHistoryError(error, "state(at: \(sequence))")
            }
        }
    }

    /// The writer's path after a damaged journal: open it (cutting a damaged tail), append one
    /// event durably, release; a fresh store (no salvage) must load exactly that and verify clean.
    static func appendAndReopen(_ state: WorkflowState, root: String, store: FlatBuffersStore) {
        guard state.lastSequence < UInt64.max else { return }
        let key = Fixture.key
        let event = WorkflowEvent(
            sequence: state.lastSequence + 1, time: Fixture.time, change: .dataSet(key: "fuzz", value: Data([7])))
        var expected = state
        do { try expected.apply(event) } catch { finding("the fixture event does not apply: \(error)") }
        do {
            try blocking {
                let writer = try await store.acquireWriter(key)
                do {
                    try await writer.append([event], durability: .fsync)
                } catch {
                    await writer.release()
                    throw error
                }
                await writer.release()
            }
        } catch {
            finding("appending after a readable journal failed: \(error)")
        }
        let reopened = Self.store(root, salvage: false)
        do {
            let again = try blocking { try await reopened.load(key) }
            if again != expected { finding("after an append, reopening differs:\n\(difference(again, expected))") }
            let problems = try blocking { try await reopened.verify() }
            if !problems.isEmpty { finding("after an append, verify reports \(problems)") }
        } catch {
            finding("after an append, the workflow cannot be reopened: \(error)")
        }
    }
}
