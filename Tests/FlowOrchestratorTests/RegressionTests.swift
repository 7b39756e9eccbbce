import FBSchema
import Foundation
import Glibc
import Synchronization
import Testing

@testable import FlowOrchestrator

// Regression tests for what the adversarial runs found (fuzzing, the crash-kill loop, the
// sanitizers; see Fuzz/README.md). Each test names the finding and loads the input that found it
// from Fixtures/regressions/ where there is one; inputs that are easier to read as code (a
// crafted journal, an encoder call, a compaction between two reads) are built here. Every test
// failed on the tree it was found on; the fixes are in 096ea1e, 3c705ad, fb10e35 and 00ad717.

/// The bytes of a fixture under Fixtures/regressions/.
private func regressionFixture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/regressions/\(name)")
    return Array(try Data(contentsOf: url))
}

/// A store directory holding workflow `default/wf` made of `files` (name → bytes).
private func storeWith(_ files: [String: [UInt8]], in directory: TemporaryDirectory) throws -> String {
    let workflow = "\(directory.path)/store/default/wf"
    try FileManager.default.createDirectory(atPath: workflow, withIntermediateDirectories: true)
    for (name, bytes) in files {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(workflow)/\(name)"))
    }
    return "\(directory.path)/store"
}

/// A store holding `state`'s snapshot and a journal after it whose records carry `sequences`,
/// in that order (whether or not they follow on).
private func storeWithJournal(of sequences: [UInt64], after state: WorkflowState, in directory: TemporaryDirectory) throws -> String {
    let events = sequences.enumerated().map { index, sequence in
        WorkflowEvent(sequence: sequence, time: .nowMicroseconds(), change: .dataSet(key: "record \(index)", value: Data()))
    }
    let frames = try JournalCodec.encode(events)
    let journal = JournalCodec.header(base: state.lastSequence) + frames.array
    frames.free()
    return try storeWith(
        ["snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state), "journal.log": journal], in: directory)
}

/// The state the fuzz fixtures describe: workflow `default/wf` with a few nodes.
private func fuzzFixtureState() -> WorkflowState {
    var state = WorkflowState(
        id: "wf", tenant: "default", fingerprint: "fp-1", nodeNames: ["fetch", "parse", "count"],
        createdAt: Date(microsecondsSince1970: 1_700_000_000_123_456))
    state.nodes[0].status = .completed
    state.nodes[0].output = Data([1, 2, 3])
    state.lastSequence = 3
    return state
}

@Suite("Regressions found by fuzzing, crash loops and sanitizers")
struct RegressionTests {
    /// Fuzz target `snapshot` (mode 2), ~2,000 executions: a summary.fb whose `snapshot_bytes`
    /// has its top bit set trapped converting it to `Int` ("Not enough bits to represent the
    /// passed value"), killing `list`, `stats` and `verify`. A summary has no checksum, so one
    /// flipped bit on disk was enough.
    @Test("summary.fb with snapshot_bytes >= 2^63 does not crash list, stats or verify")
    func summarySnapshotBytesOverflow() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let snapshot = try SnapshotEncoding.compressedSnapshot(state)
        let summary = try regressionFixture("summary-snapshot-bytes-overflow.fb")
        // The fixture really is a summary of this workflow with the top bit of snapshot_bytes set.
        #expect(summary.count == 152 && Array(summary[4..<8]) == Array("FLWM".utf8))
        let root = try storeWith(["snapshot.fb.zst": snapshot, "summary.fb": summary], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let page = try await store.list(WorkflowQuery())
        #expect(page.items.map(\.id) == ["wf"])
        #expect(try await store.stats().workflows == 1)
        _ = try await store.verify()
        #expect(try await store.load(WorkflowKey(id: "wf")) == state)
    }

    /// Fuzz target `snapshot` (mode 1, the round-trip oracle): a snapshot whose `created_at_us`
    /// is Int64.max loaded, but saving the state again trapped in `Date.microsecondsSince1970`
    /// ("Double value cannot be converted to Int64"): a damaged or foreign snapshot crashed the
    /// process on its next compaction or save instead of being an error or a value.
    @Test("a snapshot time at Int64.max loads and saves again without a trap")
    func hugeTimestampSurvivesResave() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let file = try regressionFixture("snapshot-created-at-int64-max.fb.zst")
        let root = try storeWith(["snapshot.fb.zst": file], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let key = try WorkflowKey(id: "wf")
        let loaded: WorkflowState
        do {
            loaded = try await store.load(key)
        } catch let error as FlowError {
            // Refusing the time as out of range is as good as keeping it.
            #expect(error.code == .corruptData)
            return
        }
        #expect(loaded.createdAt.timeIntervalSince1970 > 9e12)
        try await store.saveState(loaded, durability: .fsync)
        let again = try await store.load(key)
        #expect(again.createdAt == loaded.createdAt)
        #expect(again.nodes == loaded.nodes)
    }

    /// Fuzz target `snapshot` (mode 1, the round-trip oracle), ~41,000 executions, against the
    /// saturating `microsecondsSince1970` that fixed the trap above: it saturated from ±9.2e18,
    /// short of the ends of Int64 (±9.223e18), so a snapshot created at -9221576705841344879 µs
    /// came back from a save created at Int64.min: saving a loaded state changed it.
    @Test("a time near the end of Int64 is saved back unchanged")
    func timeNearInt64MinSurvivesResave() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let file = try regressionFixture("snapshot-created-at-near-int64-min.fb.zst")
        let root = try storeWith(["snapshot.fb.zst": file], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let key = try WorkflowKey(id: "wf")
        let loaded = try await store.load(key)
        #expect(loaded.createdAt == Date(microsecondsSince1970: -9_221_576_705_841_344_879))
        try await store.saveState(loaded, durability: .fsync)
        #expect(try await store.load(key) == loaded)
    }

    /// The same trap through the journal: a record whose `time_us` is Int64.max (a valid CRC:
    /// written by a buggy or hostile writer) replayed fine, and the next compaction trapped.
    @Test("a journal record time at Int64.max replays and compacts without a trap")
    func hugeRecordTimeSurvivesCompaction() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        var journal = JournalCodec.header(base: state.lastSequence)
        var record = fbs_record_in()
        record.sequence = state.lastSequence + 1
        record.time_us = Int64.max
        record.kind = FBS_EVENT_NODE_STARTED
        record.node_index = 1
        record.attempt = 1
        let arena = Array("parse".utf8)
        record.node = fbs_slice(offset: 0, length: UInt64(arena.count))
        record.error = fbs_slice(offset: 0, length: FBS_ABSENT)
        record.key = fbs_slice(offset: 0, length: FBS_ABSENT)
        record.payload = fbs_slice(offset: 0, length: FBS_ABSENT)
        var frames = fbs_buffer()
        var error = fbs_error()
        let code = arena.withUnsafeBytes { fbs_records_encode(&record, 1, $0.baseAddress, $0.count, &frames, &error) }
        try #require(code == FBS_OK)
        journal += Array(UnsafeRawBufferPointer(start: frames.data, count: frames.size))
        fbs_buffer_free(&frames)
        let root = try storeWith(
            ["snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state), "journal.log": journal], in: directory)
        let store = try FlatBuffersStore(directory: root, options: .init(compactAfterRecords: 1))
        let key = try WorkflowKey(id: "wf")
        let replayed: WorkflowState
        do {
            replayed = try await store.load(key)
        } catch let error as FlowError {
            #expect(error.code == .corruptData)
            return
        }
        #expect(replayed.nodes[1].status == .running)
        // The next append compacts: the state, with its far-future start time, is encoded again.
        let writer = try await store.acquireWriter(key)
        let event = WorkflowEvent(
            sequence: replayed.lastSequence + 1, time: .nowMicroseconds(), change: .dataSet(key: "k", value: Data()))
        try await writer.append([event], durability: .fsync)
        await writer.release()
        let after = try await FlatBuffersStore(directory: root).load(key)
        #expect(after.lastSequence == replayed.lastSequence + 1)
        #expect(after.nodes[1].startedAt == replayed.nodes[1].startedAt)
    }

    /// Fuzz target `fbschema` (mode 5, the encoder oracle), ~11,000 executions: FBSchema.h
    /// promises that an encoder's output is 8-byte aligned, but a snapshot (or summary) whose
    /// 64-bit fields all hold their default came out 4 mod 8 — and `fbs_snapshot_verify` then
    /// refused the encoder's own output as misaligned.
    @Test("snapshot and summary encoders return 8-aligned buffers that verify in place")
    func encodersAlignOutput() throws {
        // Shapes the fuzzer's finding reduces to: a snapshot of one node with every 64-bit field
        // at its default, and a summary of one pending node.
        let arena = Array("wf".utf8)
        try arena.withUnsafeBytes { arenaBytes in
            var node = fbs_node_in()
            node.name = fbs_slice(offset: 0, length: 1)
            node.error = fbs_slice(offset: 0, length: FBS_ABSENT)
            node.output = fbs_slice(offset: 0, length: FBS_ABSENT)
            var snapshot = fbs_snapshot_in()
            snapshot.arena = arenaBytes.baseAddress
            snapshot.arena_len = arenaBytes.count
            snapshot.id = fbs_slice(offset: 0, length: 2)
            snapshot.tenant = fbs_slice(offset: 0, length: 0)
            snapshot.fingerprint = fbs_slice(offset: 0, length: 0)
            snapshot.input = fbs_slice(offset: 0, length: FBS_ABSENT)
            snapshot.definition = fbs_slice(offset: 0, length: FBS_ABSENT)
            var out = fbs_buffer()
            var error = fbs_error()
            try withUnsafePointer(to: node) { node in
                snapshot.nodes = node
                snapshot.node_count = 1
                try #require(fbs_snapshot_encode(&snapshot, &out, &error) == FBS_OK)
            }
            defer { fbs_buffer_free(&out) }
            #expect(Int(bitPattern: out.data) % 8 == 0)
            #expect(fbs_snapshot_verify(out.data, out.size, &error) == FBS_OK)

            var summary = fbs_summary_in()
            summary.arena = arenaBytes.baseAddress
            summary.arena_len = arenaBytes.count
            summary.id = fbs_slice(offset: 0, length: 1)
            summary.tenant = fbs_slice(offset: 0, length: 0)
            summary.fingerprint = fbs_slice(offset: 0, length: 0)
            summary.node_count = 1
            summary.pending = 1
            var summaryOut = fbs_buffer()
            try #require(fbs_summary_encode(&summary, &summaryOut, &error) == FBS_OK)
            defer { fbs_buffer_free(&summaryOut) }
            #expect(Int(bitPattern: summaryOut.data) % 8 == 0)
            #expect(fbs_summary_verify(summaryOut.data, summaryOut.size, &error) == FBS_OK)
        }
    }

    /// Crash-kill loop (scripts/crash-loop.sh, seed 2, round 0: flow-crashtest killed 13.8 ms
    /// in, during its first save): the workflow directory held only `lock` and an empty
    /// `snapshot.fb.zst.tmp-PID-N`, and `verify` reported "no snapshot" on top of the leftover
    /// temporary file, calling a store that lost nothing unsound. The next run starts the
    /// workflow afresh, as it should.
    @Test("a writer killed before its first snapshot leaves only a leftover temporary, not a missing snapshot")
    func killedBeforeFirstSnapshot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let root = try storeWith(["lock": Array("pid 16745\n".utf8), "snapshot.fb.zst.tmp-16745-1": []], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let problems = try await store.verify()
        #expect(problems.map(\.message) == ["leftover temporary file"])
        #expect(try await store.loadIfPresent(WorkflowKey(id: "wf")) == nil)
    }

    /// Found while writing the Guarantees section ("readers need no lock"), confirmed with two
    /// store objects on one directory: a reader that loads while another process compacts
    /// (snapshot replaced, then journal) can read the old snapshot and then the new journal, and
    /// got `corruptData: journal starts after event N but the snapshot ends at M: events are
    /// missing` for a healthy workflow (8 of ~300 loads during a 300-node run compacting on
    /// every record). `flowctl status`, `show` and `verify` beside a running workflow hit it.
    /// Here the compaction happens exactly between the reader's two reads.
    @Test("a reader racing a compaction in another process reads the new state, not damage")
    func readerRacingCompaction() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let key = try WorkflowKey(id: "wf")
        let state = fuzzFixtureState()
        func dataSet(_ sequence: UInt64) -> WorkflowEvent {
            WorkflowEvent(sequence: sequence, time: .nowMicroseconds(), change: .dataSet(key: "k\(sequence)", value: Data([1])))
        }
        // Before: a snapshot at event 3 and a journal of events 4...9.
        let before = "\(directory.path)/before"
        let store = try FlatBuffersStore(directory: before)
        try await store.saveState(state, durability: .fsync)
        let writer = try await store.acquireWriter(key)
        try await writer.append((4...9).map(dataSet), durability: .fsync)
        await writer.release()
        // After: the same workflow once event 10 made it compact (snapshot at 10, empty journal).
        let after = "\(directory.path)/after"
        try FileManager.default.copyItem(atPath: before, toPath: after)
        let compacting = try FlatBuffersStore(directory: after, options: .init(compactAfterRecords: 7))
        let second = try await compacting.acquireWriter(key)
        try await second.append([dataSet(10)], durability: .fsync)
        await second.release()
        let expected = try await FlatBuffersStore(directory: after).load(key)
        #expect(expected.lastSequence == 10)

        // The reader opens the snapshot of `before`; as it opens the journal, the compaction of
        // `after` lands in `before` the way a compaction does: snapshot first, then journal.
        let layer = CompactionBetweenReads(
            journal: "\(before)/default/wf/journal.log",
            renames: [
                ("\(after)/default/wf/snapshot.fb.zst", "\(before)/default/wf/snapshot.fb.zst"),
                ("\(after)/default/wf/journal.log", "\(before)/default/wf/journal.log"),
            ])
        let reader = try FlatBuffersStore(directory: before, options: .init(), layer: layer)
        #expect(try await reader.load(key) == expected)
        #expect(layer.fired)
    }

    /// Found reading JournalReader.replay against ADR 3 ("a record must follow its predecessor's
    /// sequence number"): replay skipped every record numbered at or below the state's last one
    /// wherever it stood, so a journal 4, 5, 4', 6 (a repeated record with other content) or
    /// 4, 5, 2, 6 loaded as if the stray record were not there. CRCs keep random damage from
    /// doing this; a buggy or hostile writer can.
    @Test(
        "a journal whose records repeat or step back is refused, not silently skipped",
        arguments: [[4, 5, 4, 6], [4, 5, 5, 6], [4, 5, 2, 6]] as [[UInt64]])
    func nonConsecutiveRecordsRefused(sequences: [UInt64]) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let root = try storeWithJournal(of: sequences, after: state, in: directory)
        let error = await #expect(throws: FlowError.self) {
            try await FlatBuffersStore(directory: root).load(WorkflowKey(id: "wf"))
        }
        #expect(error?.code == .corruptData)
    }

    /// Found checking the fix above against every reader of journals: `history` kept skipping
    /// records numbered below the next one it wanted, so on the journal load refuses it served
    /// 4, 5, 6 and dropped the repeated 4' — history and load disagreed about the same file.
    @Test(
        "history refuses a journal whose records repeat or step back, as load does",
        arguments: [[4, 5, 4, 6], [4, 5, 2, 6]] as [[UInt64]])
    func historyRefusesNonConsecutiveRecords(sequences: [UInt64]) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let root = try storeWithJournal(of: sequences, after: state, in: directory)
        let error = await #expect(throws: FlowError.self) {
            try await FlatBuffersStore(directory: root).history(WorkflowKey(id: "wf"), from: state.lastSequence + 1)
        }
        #expect(error?.code == .corruptData)
    }

    /// Fuzz target `journal` (flags: fix CRCs, append), 293 executions into the CI-length run
    /// on fb10e35: a journal whose header still names an older snapshot and holds no record (a
    /// whole-state save cut short between writing the snapshot and starting the new journal, as
    /// with `.level` persistence) took the next append after that stale header; once replay
    /// required consecutive records from the base, the workflow could no longer be opened
    /// ("record 4 follows record 1"). The writer must start such a journal afresh.
    @Test(
        "an append after a stale empty journal header leaves a workflow that opens")
    func appendAfterStaleEmptyJournal() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let root = try storeWith(
            [
                "snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state),
                "journal.log": JournalCodec.header(base: state.lastSequence - 2),
            ], in: directory)
        let key = try WorkflowKey(id: "wf")
        let store = try FlatBuffersStore(directory: root)
        #expect(try await store.load(key) == state)
        let event = WorkflowEvent(
            sequence: state.lastSequence + 1, time: .nowMicroseconds(), change: .dataSet(key: "k", value: Data([1])))
        let writer = try await store.acquireWriter(key)
        try await writer.append([event], durability: .fsync)
        await writer.release()
        var expected = state
        try expected.apply(event)
        let reopened = try FlatBuffersStore(directory: root)
        #expect(try await reopened.load(key) == expected)
        #expect(try await reopened.verify() == [])
    }

    /// Fuzz target `journal` (flags: fix CRCs, append) on 00ad717, which restarted only journals
    /// with no record: a journal whose records end before the snapshot (base 2 and record 3 next
    /// to a snapshot at 4; a buffered journal's last records lost to a power loss while the
    /// always-synced snapshot of a compaction survived) took the next append after record 3, and
    /// the workflow stopped opening ("record 5 follows record 3").
    @Test(
        "an append after a journal that ends before the snapshot leaves a workflow that opens")
    func appendAfterJournalEndingBeforeSnapshot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let behind = WorkflowEvent(
            sequence: state.lastSequence - 1, time: .nowMicroseconds(), change: .dataSet(key: "old", value: Data()))
        let frames = try JournalCodec.encode([behind])
        let journal = JournalCodec.header(base: state.lastSequence - 2) + frames.array
        frames.free()
        let root = try storeWith(
            ["snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state), "journal.log": journal], in: directory)
        let key = try WorkflowKey(id: "wf")
        let store = try FlatBuffersStore(directory: root)
        #expect(try await store.load(key) == state)
        let event = WorkflowEvent(
            sequence: state.lastSequence + 1, time: .nowMicroseconds(), change: .dataSet(key: "k", value: Data([1])))
        let writer = try await store.acquireWriter(key)
        try await writer.append([event], durability: .fsync)
        await writer.release()
        var expected = state
        try expected.apply(event)
        let reopened = try FlatBuffersStore(directory: root)
        #expect(try await reopened.load(key) == expected)
        #expect(try await reopened.verify() == [])
    }

    /// Found reading JournalCodec while writing the journal fuzz target, confirmed with a crafted
    /// input: to tell a damaged tail from damage before the tail, every 8-aligned offset after a
    /// bad frame was tried as a frame, one CRC of its declared length each. A 1 MiB journal of
    /// [length = 512 KiB]["FLWJ"] words after one bad frame costs ~64 GB of CRC (about a minute;
    /// 16 MiB: hours), so one crafted file hung every open and `verify`.
    @Test("a crafted journal cannot make telling a tail from earlier damage quadratic")
    func journalTailCheckIsBounded() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let size = 1 << 20
        var journal = JournalCodec.header(base: state.lastSequence)
        // Every candidate offset reads as a frame of 512 KiB whose payload has the record
        // identifier where a real one has it; every CRC fails.
        let word = withUnsafeBytes(of: UInt32(size / 2).littleEndian, Array.init) + Array("FLWJ".utf8)
        for _ in 0..<(size / 8) { journal += word }
        let root = try storeWith(
            ["snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state), "journal.log": journal], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let started = ContinuousClock.now
        do {
            // Cutting it as a tail or refusing it are both fine; inventing records is not.
            #expect(try await store.load(WorkflowKey(id: "wf")) == state)
        } catch let error as FlowError {
            #expect(error.code == .corruptData)
        }
        #expect(try await store.verify().count == 1)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    /// Found by the ThreadSanitizer pass of CI on 9ba502c: a consumer's position, read on the
    /// I/O pool into a fresh buffer, was reported as a race with the task that awaited it. When
    /// the job finished before the task had suspended, the only order between the two threads
    /// was the runtime's own atomics, which the checker cannot see. Thousands of small reads
    /// whose buffers are made on the pool and read by the caller: each must arrive whole, and
    /// under ThreadSanitizer (scripts/sanitizers.sh thread) the handoff must not be reported.
    @Test("a buffer made on the I/O pool reaches the awaiting task through a visible handoff")
    func ioPoolHandoffIsOrdered() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let io = FileIO(layer: SystemFileLayer())
        let path = directory.path + "/position"
        try Array("42\n".utf8).withUnsafeBytes { try io.replaceAtomically(path, with: $0, durability: .buffered) }
        let reads = try await withThrowingTaskGroup(of: [String?].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var texts: [String?] = []
                    for _ in 0..<500 {
                        let buffer = try await IOThreadPool.shared.run { try io.readFile(path, limit: 64) }
                        texts.append(buffer.map { String(decoding: $0.bytes, as: UTF8.self) })
                    }
                    return texts
                }
            }
            var all: [String?] = []
            for try await texts in group { all += texts }
            return all
        }
        #expect(reads.count == 4_000)
        #expect(reads.allSatisfy { $0 == "42\n" })
    }

    /// Found by the ThreadSanitizer run of the whole suite on 4b53908: EventTests "without kept
    /// history, compacted events are declared gone" failed when the run's last compaction left an
    /// empty journal (TSan's timing moved where the group commits ended). `history` returned no
    /// events instead of throwing `historyUnavailable`: it declared events gone only when it met a
    /// later record, and a journal with none has no later record. The input: a snapshot at 3 and
    /// an empty journal based at 3, events 1 to 3 compacted away without keepHistory.
    @Test("history declares the events compacted into the snapshot gone when the journal after it is empty")
    func historyWithEmptyJournalAfterCompaction() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = fuzzFixtureState()
        let root = try storeWith(
            [
                "snapshot.fb.zst": try SnapshotEncoding.compressedSnapshot(state),
                "journal.log": JournalCodec.header(base: state.lastSequence),
            ], in: directory)
        let store = try FlatBuffersStore(directory: root)
        let key = try WorkflowKey(id: "wf")
        #expect(try await store.load(key) == state)
        let error = await #expect(throws: FlowError.self) { try await store.history(key) }
        #expect(error?.code == .historyUnavailable)
        #expect(error?.message.contains("events 1 to 3 are not in its history") == true)
        // Nothing is missing after the snapshot: no error, no event.
        #expect(try await store.history(key, from: state.lastSequence + 1) == [])
    }
}

/// The system file layer, except that the first time `journal` is opened for reading, `renames`
/// happen first: another process's compaction landing between a reader's two reads.
private final class CompactionBetweenReads: FileLayer {
    private let real = SystemFileLayer()
    private let journal: String
    private let renames: [(String, String)]
    private let state = Mutex(false)

    init(journal: String, renames: [(String, String)]) {
        self.journal = journal
        self.renames = renames
    }

    var fired: Bool { state.withLock { $0 } }

    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Result<Int32, Errno> {
        if path == journal, flags & (O_WRONLY | O_RDWR) == 0 {
            let first = state.withLock { fired in
                defer { fired = true }
                return !fired
            }
            if first {
                for (from, to) in renames { _ = real.rename(from, to) }
            }
        }
        return real.open(path, flags, mode)
    }

    func close(_ fd: Int32) -> Result<Void, Errno> { real.close(fd) }
    func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { real.write(fd, buffer) }
    func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        real.pwrite(fd, buffer, offset)
    }
    func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { real.read(fd, buffer) }
    func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        real.pread(fd, buffer, offset)
    }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { real.fsync(fd) }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { real.fdatasync(fd) }
    func ftruncate(_ fd: Int32, _ length: Int64) -> Result<Void, Errno> { real.ftruncate(fd, length) }
    func fileSize(_ fd: Int32) -> Result<Int64, Errno> { real.fileSize(fd) }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> { real.rename(from, to) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { real.link(from, to) }
    func unlink(_ path: String) -> Result<Void, Errno> { real.unlink(path) }
    func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> { real.mkdir(path, mode) }
    func rmdir(_ path: String) -> Result<Void, Errno> { real.rmdir(path) }
    func flock(_ fd: Int32, _ operation: Int32) -> Result<Void, Errno> { real.flock(fd, operation) }
    func listDirectory(_ path: String) -> Result<[String], Errno> { real.listDirectory(path) }
    func isDirectory(_ path: String) -> Bool { real.isDirectory(path) }
}
