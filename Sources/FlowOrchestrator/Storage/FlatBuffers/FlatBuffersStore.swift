import FBSchema
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The durable default: per workflow a zstd-compressed FlatBuffers snapshot
/// (`ROOT/TENANT/ID/snapshot.fb.zst`), readable with `zstd -d` and `flatc --json`, plus an
/// append-only journal of FlatBuffers records (`journal.log`, each framed with its length and a
/// CRC32C) and a small summary for listing. See docs/format.md.
///
/// With the `node` persistence strategy every status change is appended to the journal; a
/// snapshot is written when the journal passes its bounds (compaction) and whenever a whole
/// state is saved. Opening a workflow reads the snapshot, replays the journal past it and cuts a
/// torn or corrupt tail (logged as a warning and counted in ``stats()``).
///
/// Large snapshots (from about 16,000 nodes) are encoded, compressed, decompressed and decoded on
/// up to four cores. The temporary buffers of the largest saves and loads (up to 96 MiB in all)
/// and a few zstd contexts stay allocated with the store for the next ones; they are freed with it.
public final class FlatBuffersStore: FileWorkflowStore {
    /// Settings of a FlatBuffers store.
    public struct Options: Sendable {
        /// The zstd level for snapshots (1 fast … 19 small; negative levels faster still), or nil
        /// for no compression (the frame and its checksum are kept, so every load is checked).
        public var compressionLevel: Int32?
        /// The largest snapshot accepted when loading, compressed or not; a zstd frame that
        /// declares more is refused as a decompression bomb.
        public var maxSnapshotBytes: Int
        /// Compact (write a snapshot, start a new journal) once the journal holds this many records.
        public var compactAfterRecords: Int
        /// Compact once the journal holds this many bytes.
        public var compactAfterBytes: Int
        /// The largest journal read.
        public var maxJournalBytes: Int
        /// Open a journal damaged before its tail by keeping the records before the damage and
        /// dropping the rest (logged as an error). Off by default: such damage is an error.
        public var salvage: Bool
        /// Keep what compaction folds into a new snapshot: the old snapshot and journal move to
        /// the workflow's `history/` folder (as hard links), so the whole event history and any
        /// past state stay readable. Off: compacted history is gone, and reading it is an error.
        public var keepHistory: Bool
        /// The most journals kept open at once; the least recently written of the others are
        /// closed and reopened on their next write. Nil: an eighth of the process's open-file
        /// limit (at most 256).
        public var maxOpenJournals: Int?
        /// The most writers holding their lock file open at once; ``acquireWriter(_:)`` waits,
        /// in order, for a free one past it. Nil: a quarter of the open-file limit (at most 512).
        public var maxWriters: Int?

        /// Options with every field given.
        public init(
            compressionLevel: Int32? = 1, maxSnapshotBytes: Int = 1 << 30, compactAfterRecords: Int = 200_000,
            compactAfterBytes: Int = 64 << 20, maxJournalBytes: Int = 4 << 30, salvage: Bool = false,
            keepHistory: Bool = true, maxOpenJournals: Int? = nil, maxWriters: Int? = nil
        ) {
            self.compressionLevel = compressionLevel
            self.maxSnapshotBytes = min(maxSnapshotBytes, Int(Int32.max))
            self.compactAfterRecords = max(1, compactAfterRecords)
            self.compactAfterBytes = max(1024, compactAfterBytes)
            self.maxJournalBytes = maxJournalBytes
            self.salvage = salvage
            self.keepHistory = keepHistory
            self.maxOpenJournals = maxOpenJournals.map { max(1, $0) }
            self.maxWriters = maxWriters.map { max(1, $0) }
        }
    }

    /// The options the store was opened with.
    public let options: Options
    /// Snapshots, summaries, transactions and locks.
    let engine: FileStoreEngine
    /// The journals open for appending.
    private let journals: OpenJournals
    private let logger: Logger?
    private let tailsCut = Atomic<Int>(0)
    /// Journals whose summary waits for the flush timer, and whether the timer runs.
    private let summaryFlushes = Mutex<(waiting: [ObjectIdentifier: JournalHandle], running: Bool)>(([:], false))
    /// Polls of event subscriptions that found their workflow not created yet (tests wait on it).
    let subscriptionWaits = Atomic<Int>(0)

    /// Opens (creating if needed) a store rooted at `directory`, finishing any transaction a
    /// crash interrupted. Warnings (a cut journal tail) go to `logger`.
    public convenience init(directory: String, options: Options = Options(), logger: Logger? = nil) throws {
        try self.init(directory: directory, options: options, layer: SystemFileLayer(), logger: logger)
    }

    init(directory: String, options: Options, layer: any FileLayer, logger: Logger? = nil) throws {
        self.options = options
        self.logger = logger
        let format = FlatBuffersSnapshotFormat(
            compressionLevel: options.compressionLevel, maxSnapshotBytes: options.maxSnapshotBytes)
        journals = OpenJournals(limit: options.maxOpenJournals ?? min(256, max(2, WriterSlots.defaultCount() / 2)))
        engine = try FileStoreEngine(
            root: directory, format: format, layer: layer, maxFileBytes: options.maxSnapshotBytes,
            maxWriters: options.maxWriters ?? WriterSlots.defaultCount())
    }

    public var supportsJournal: Bool { true }

    public var directory: String { engine.root }

    public func directory(for key: WorkflowKey) -> String { engine.directory(key) }

    func journalPath(_ key: WorkflowKey) -> String { "\(engine.directory(key))/journal.log" }

    private var reader: JournalReader {
        JournalReader(io: engine.io, salvage: options.salvage, logger: logger)
    }

    // MARK: Reading

    /// The snapshot with the journal replayed; `notFound`, or `corruptData` naming the file and
    /// offset. The writer's own process gets its in-memory replica.
    public func load(_ key: WorkflowKey) async throws -> WorkflowState {
        if let handle = journals[key] { return handle.state }
        return try await IOThreadPool.shared.run { try self.read(key).state }
    }

    /// One page of workflows, answered from summary files without reading snapshots. Workflows
    /// whose files cannot be read are left out (``verify()`` reports them).
    public func list(_ query: WorkflowQuery) async throws -> WorkflowPage {
        try await IOThreadPool.shared.run { try self.engine.list(query) }
    }

    private func read(_ key: WorkflowKey) throws -> JournalReader.Outcome {
        guard let outcome = try readConsistently(key, with: reader) else {
            throw FlowError(.notFound, "workflow \(key) not found in \(engine.root)")
        }
        return outcome
    }

    /// The snapshot of `key` with its journal replayed by `reader`; nil when there is no snapshot.
    ///
    /// A writer in another process compacts by replacing the snapshot, then the journal. A reader
    /// that reads the old snapshot and then the new journal finds a journal that starts after its
    /// snapshot, which is not damage: the newer snapshot is on disk by then. So when replay fails
    /// and the snapshot has changed meanwhile, both are read again (a few times at most); a
    /// failure against an unchanged snapshot is real.
    private func readConsistently(_ key: WorkflowKey, with reader: JournalReader) throws -> JournalReader.Outcome? {
        var attempts = 0
        while true {
            guard let (snapshot, _, _) = try engine.loadSnapshot(key) else { return nil }
            do {
                return try reader.replay(onto: snapshot, journal: journalPath(key), maxBytes: options.maxJournalBytes)
            } catch let error as FlowError where error.code == .corruptData && attempts < 3 {
                attempts += 1
                guard let (again, _, _) = try? engine.loadSnapshot(key), again.lastSequence != snapshot.lastSequence
                else { throw error }
            }
        }
    }

    // MARK: Writing

    /// Writes `state` as the snapshot and starts a fresh journal after it, as one atomic change:
    /// a crash leaves the old snapshot and journal or the new ones. Durable on return when
    /// `durability` is `fsync`. The current epoch goes to `history/` first when history is kept.
    private func save(_ state: WorkflowState, durability: Durability, writer lock: WriterLock) throws {
        let key = lock.key
        guard state.tenant == key.tenant, state.id == key.id else { throw FlowError.wrongWorkflow(state, writer: key) }
        try lock.check()
        try refuseBackwards(state, key)
        try archiveEpoch(key)
        if journals[key] == nil, !engine.io.exists(journalPath(key)), !engine.exists(key) {
            // A new workflow with no events yet: its journal is made by its first append (a
            // missing journal is an empty one to every reader), so creating it costs three syncs
            // (ADR 13). One saved with events already (end and level strategies) gets its
            // journal header now, which says where the history starts ("never journaled").
            try engine.create(
                state, durability: durability, extraFiles: state.lastSequence == 0 ? [] : try transactionFiles(for: state))
        } else if try journalBase(journalPath(key), requireRecords: true) != nil {
            // Snapshot and journal must change together, or the old journal would replay on
            // top of the new snapshot.
            try engine.saveAll([state], durability: durability, extraFiles: transactionFiles(for:))
            try reopenJournal(key, after: state)
        } else {
            try engine.save(state, durability: durability)
            try restartJournal(key, after: state, durability: durability)
        }
    }

    private func stateOnDisk(_ key: WorkflowKey) throws -> WorkflowState { try read(key).state }

    private func transactionFiles(for state: WorkflowState) throws -> [(name: String, bytes: [UInt8])] {
        [("journal.log", JournalCodec.header(base: state.lastSequence))]
    }

    /// A state older than the recorded history would rewrite it (and its archive names):
    /// delete the workflow first to start over. A workflow whose files cannot be read may be
    /// overwritten (that is how it is repaired by hand).
    private func refuseBackwards(_ state: WorkflowState, _ key: WorkflowKey) throws {
        guard let base = try journalBase(journalPath(key), requireRecords: false) else { return }
        var recorded = base
        if try journalBase(journalPath(key), requireRecords: true) != nil {
            // Records past the base: only a replay tells how far the history reaches.
            guard let last = (try? read(key))?.state.lastSequence else { return }
            recorded = last
        }
        guard state.lastSequence < recorded else { return }
        throw FlowError(
            .invalidArgument,
            "workflow \(key): saving event \(state.lastSequence) over a history that reaches \(recorded) would rewrite it; delete the workflow to start over")
    }

    /// Saves every state or none, even across a crash: all files (each with an empty journal
    /// after its snapshot) are written and synced aside, an intent record is made durable, then
    /// the files are renamed into place. A store opened after a crash finishes any transaction
    /// whose intent is durable. The call takes the workflows' writer locks itself (raising their
    /// epochs; `locked` if one is held, including by the caller). Durable on return.
    public func saveAll(_ states: [WorkflowState], durability: Durability = .fsync) async throws {
        let hooks = TransactionHooks(
            check: { states in
                for state in states { try self.refuseBackwards(state, try WorkflowKey(tenant: state.tenant, id: state.id)) }
            },
            prepare: { keys in
                for key in keys {
                    self.closeJournal(key)
                    try self.archiveEpoch(key)
                }
            },
            extraFiles: { try self.transactionFiles(for: $0) })
        try await IOThreadPool.shared.run { try self.engine.transact(states, durability: durability, hooks: hooks) }
    }

    /// Points an open journal handle at the journal a transaction put in place.
    private func reopenJournal(_ key: WorkflowKey, after state: WorkflowState) throws {
        guard let handle = journals[key] else { return }
        let fd = try engine.io.open(journalPath(key), O_WRONLY)
        handle.restart(with: state, fd: fd, io: engine.io)
        journals.written(key, io: engine.io)
    }

    /// Replaces the journal with an empty one that follows `state`, atomically.
    private func restartJournal(_ key: WorkflowKey, after state: WorkflowState, durability: Durability) throws {
        let path = journalPath(key)
        try JournalCodec.header(base: state.lastSequence).withUnsafeBytes { header in
            try engine.io.replaceAtomically(path, with: header, durability: durability)
        }
        if let handle = journals[key] {
            let fd = try engine.io.open(path, O_WRONLY)
            handle.restart(with: state, fd: fd, io: engine.io)
            if durability == .buffered { handle.markNameUnsynced() }
            journals.written(key, io: engine.io)
        }
    }

    /// Appends `events` to the workflow's journal as one write; with `fsync` durability they are
    /// on disk (one `fdatasync` for the batch) when this returns. Compacts when the journal has
    /// passed its bounds. After a failed write the workflow's writer is stopped (`writerStopped`)
    /// until the workflow is opened again.
    /// An empty batch with `fsync` durability syncs what earlier buffered appends wrote.
    private func append(_ events: [WorkflowEvent], durability: Durability, writer lock: WriterLock) throws {
        let key = lock.key
        try lock.check()
        let handle = try openJournal(key, epoch: lock.epoch, durability: durability)
        if durability == .fsync { try handle.syncNameIfNeeded(io: engine.io) }
        guard !events.isEmpty else {
            if durability == .fsync { try handle.sync(io: engine.io) }
            return
        }
        try finish(try write(events, durability: durability, to: handle, writer: lock), handle: handle)
    }

    /// What an append leaves to do after its journal write.
    private enum FollowUp {
        case none
        /// The journal passed its bounds.
        case compact
        /// The summary is due (``JournalHandle/summaryDue(interval:)``).
        case summary(WorkflowState)
    }

    /// How often, at most, a running workflow's summary is rewritten for its node counts alone.
    static let summaryInterval: Duration = .seconds(1)

    /// Writes `events` to `handle`'s journal (one `pwrite`, and one `fdatasync` with `fsync`
    /// durability) and says what is left to do.
    private func write(
        _ events: [WorkflowEvent], durability: Durability, to handle: JournalHandle, writer lock: WriterLock
    ) throws -> FollowUp {
        let compact = try handle.append(
            events, durability: durability, io: engine.io,
            bounds: (options.compactAfterRecords, options.compactAfterBytes), fence: lock)
        journals.written(handle.key, io: engine.io)
        if compact { return .compact }
        let due = handle.summaryDue(interval: Self.summaryInterval)
        if due.deferred { scheduleSummaryFlush(handle) }
        return due.state.map(FollowUp.summary) ?? .none
    }

    /// Compacts, or rewrites the summary: `list` filters, counts and `purge` candidates stay
    /// right without a snapshot, since the summary is a cache rewritten when the status changes
    /// and about once a second while only node counts do.
    private func finish(_ followUp: FollowUp, handle: JournalHandle) throws {
        switch followUp {
        case .none:
            return
        case .compact:
            try compactJournal(handle.key, handle: handle, durability: .fsync)
        case .summary(let state):
            try writeSummary(state, of: handle)
        }
    }

    /// Writes `state` as the summary of `handle`'s workflow (page cache only: a summary is a
    /// cache, made exact again when the workflow is opened or verified).
    private func writeSummary(_ state: WorkflowState, of handle: JournalHandle) throws {
        try handle.writeSummary(state) { state in
            let directory = engine.directory(handle.key)
            let bytes = try ["snapshot.fb.zst", "journal.log"].reduce(0) { $0 + (try engine.io.fileSize("\(directory)/\($1)")) }
            try engine.writeSummary(WorkflowSummary(state, storedBytes: bytes), in: directory, durability: .buffered)
        }
    }

    /// Has the flush timer write `handle`'s summary once the summary interval has passed since
    /// the last one, so that `list` shows a running workflow's node counts within about a second
    /// even while no further append comes. The timer is a task that runs only while summaries
    /// wait, holding the store weakly between rounds.
    private func scheduleSummaryFlush(_ handle: JournalHandle) {
        let start = summaryFlushes.withLock { flushes -> Bool in
            flushes.waiting[ObjectIdentifier(handle)] = handle
            if flushes.running { return false }
            flushes.running = true
            return true
        }
        guard start else { return }
        Task { [weak self] in
            var wait = Self.summaryInterval
            while true {
                try? await Task.sleep(for: wait)
                guard let store = self else { return }
                guard let next = await store.flushDeferredSummaries() else { return }
                wait = max(next, .milliseconds(5))
            }
        }
    }

    /// One round of the flush timer: writes every waiting summary that is due; returns how long
    /// to wait for the next round, or nil when none waits any more (the timer stops).
    private func flushDeferredSummaries() async -> Duration? {
        let handles = summaryFlushes.withLock { Array($0.waiting.values) }
        var next: Duration?
        for handle in handles {
            let (state, retryAfter) = handle.deferredSummary(interval: Self.summaryInterval)
            if let retryAfter {
                next = min(next ?? retryAfter, retryAfter)
                continue
            }
            // Only while the writer that opened it still has it.
            if let state, journals[handle.key] === handle {
                do {
                    try await IOThreadPool.shared.run { try self.writeSummary(state, of: handle) }
                } catch {
                    logger?.debug(
                        "summary not rewritten", metadata: ["workflow": "\(handle.key)", "error": "\(error)"])
                }
            }
        }
        return summaryFlushes.withLock { flushes -> Duration? in
            for handle in handles where !handle.isSummaryDeferred {
                flushes.waiting[ObjectIdentifier(handle)] = nil
            }
            if flushes.waiting.isEmpty {
                flushes.running = false
                return nil
            }
            return next ?? Self.summaryInterval
        }
    }

    /// A buffered append to a journal this writer already has open: the `pwrite` (to the page
    /// cache) runs on the caller's thread, what follows it (compaction, a summary) on the I/O
    /// threads. Nil when the journal is not open yet (the caller then runs the whole append
    /// there).
    private func appendBufferedInline(_ events: [WorkflowEvent], writer lock: WriterLock) async throws -> Bool {
        guard let handle = journals[lock.key], handle.epoch == lock.epoch else { return false }
        let followUp = try write(events, durability: .buffered, to: handle, writer: lock)
        if case .none = followUp { return true }
        try await IOThreadPool.shared.run { try self.finish(followUp, handle: handle) }
        return true
    }

    /// Writes the replica as the new snapshot, then a new empty journal. A crash between the two
    /// leaves a snapshot that already holds the old journal's records; replay skips them.
    private func compactJournal(_ key: WorkflowKey, handle: JournalHandle, durability: Durability) throws {
        let state = handle.state
        try archiveEpoch(key)
        try engine.save(state, durability: .fsync)
        try restartJournal(key, after: state, durability: .fsync)
        logger?.debug("journal compacted", metadata: ["workflow": "\(key)", "sequence": "\(state.lastSequence)"])
    }

    /// The open journal of `key` for the writer of `epoch`, opening it (and cutting a damaged
    /// tail) on first use. A handle another writer opened is closed first.
    /// A journal made afresh by a buffered append is renamed into place without a directory
    /// sync (its content is synced): the first fsync append syncs the directory first.
    private func openJournal(_ key: WorkflowKey, epoch: UInt64, durability: Durability) throws -> JournalHandle {
        if let handle = journals[key] {
            if handle.epoch == epoch { return handle }
            closeJournal(key)
        }
        let outcome = try read(key)
        let path = journalPath(key)
        let io = engine.io
        // The journal may end before the snapshot: a save cut short between writing the
        // snapshot and starting the new journal leaves the old header (with or without
        // records), and with buffered durability a power loss can take the journal's last
        // records while the (always synced) new snapshot survives. Every record it holds is in
        // the snapshot then, and the next one appended must follow the journal's last (replay
        // refuses anything else), so such a journal starts afresh after the state, as a
        // missing one does.
        let fresh = !outcome.journalExists || outcome.journalEnd != outcome.state.lastSequence
        if fresh {
            try JournalCodec.header(base: outcome.state.lastSequence).withUnsafeBytes { header in
                try io.replaceAtomically(path, with: header, durability: durability)
            }
        }
        let fd = try io.open(path, O_WRONLY)
        var size = Int64(fresh ? Int(FBS_JOURNAL_HEADER_SIZE) : outcome.goodEnd)
        do {
            let fileSize = try io.size(fd, path: path)
            if fileSize > size, let cut = outcome.cutTail {
                try io.truncate(fd, to: size, path: path)
                try io.sync(fd, path: path)
                tailsCut.add(1, ordering: .relaxed)
                logger?.warning(
                    "cut a damaged journal tail before appending",
                    metadata: ["file": "\(path)", "offset": "\(cut.offset)", "bytes": "\(fileSize - size)"])
            } else if fileSize < size {
                size = fileSize
            }
        } catch {
            io.close(fd)
            throw error
        }
        let handle = JournalHandle(
            key: key, epoch: epoch, path: path, fd: fd, size: size, records: outcome.records, replica: outcome.state)
        if let existing = journals.insert(handle) {
            io.close(fd)
            return existing
        }
        if fresh, durability == .buffered { handle.markNameUnsynced() }
        journals.written(key, io: io)
        return handle
    }

    /// Closes `key`'s open journal; with `epoch`, only when that writer opened it.
    private func closeJournal(_ key: WorkflowKey, epoch: UInt64? = nil) {
        journals.remove(key, epoch: epoch)?.close(io: engine.io)
    }

    // MARK: Locking, removal, maintenance

    /// Takes the workflow's writer lock and raises its epoch (synced before this returns);
    /// `locked` names the holder's pid. Releasing the writer also closes the workflow's journal,
    /// so the next writer (in any process) reopens the state from disk.
    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        let lock = try await engine.acquireWriterInSlot(key)
        closeJournal(key)
        return Writer(store: self, lock: lock)
    }

    /// The writer of `key`; with `ignoringLock` the `flock` is skipped (tests of fencing stand
    /// for a program that skips it).
    func acquireWriter(_ key: WorkflowKey, ignoringLock: Bool) throws -> any WorkflowWriter {
        let lock = try engine.acquireWriter(key, ignoringHolder: ignoringLock)
        closeJournal(key)
        return Writer(store: self, lock: lock)
    }

    private struct Writer: WorkflowWriter {
        let store: FlatBuffersStore
        let lock: WriterLock
        var key: WorkflowKey { lock.key }
        var epoch: UInt64 { lock.epoch }

        func save(_ state: WorkflowState, durability: Durability) async throws {
            try await IOThreadPool.shared.run { [store, lock] in try store.save(state, durability: durability, writer: lock) }
        }

        func append(_ events: [WorkflowEvent], durability: Durability) async throws {
            if durability == .buffered, !events.isEmpty, try await store.appendBufferedInline(events, writer: lock) { return }
            try await IOThreadPool.shared.run { [store, lock] in try store.append(events, durability: durability, writer: lock) }
        }

        func release() async {
            store.closeJournal(key, epoch: epoch)
            lock.releaseNow()
        }
    }

    public func delete(_ key: WorkflowKey) async throws {
        try await IOThreadPool.shared.run {
            self.closeJournal(key)
            try self.engine.delete(key)
        }
    }

    public func purge(finishedBefore cutoff: Date, tenant: String? = nil) async throws -> [WorkflowKey] {
        try await IOThreadPool.shared.run { try self.engine.purge(finishedBefore: cutoff, tenant: tenant, loadState: self.stateOnDisk) }
    }

    public func stats() async throws -> StoreStats {
        var stats = try await IOThreadPool.shared.run { try self.engine.stats() }
        stats.journalTailsCut = tailsCut.load(ordering: .relaxed)
        return stats
    }

    /// Reads every snapshot, summary and journal and reports each problem with its file and
    /// offset (a torn journal tail included: it is not an error, but it is worth knowing).
    public func verify() async throws -> [StoreProblem] {
        try await IOThreadPool.shared.run { try self.verifyNow() }
    }

    /// Rewrites `key`'s summary when it no longer says what `state` does (its last rewrite was
    /// buffered, or a crash came before the next one), unless a writer holds the workflow (which
    /// keeps the summary fresh itself).
    private func refreshSummary(_ key: WorkflowKey, to state: WorkflowState) {
        let directory = engine.directory(key)
        guard let summary = engine.summary(key),
            summary.status != state.status || summary.nodeCounts != state.statusCounts
                || summary.lastSequence != state.lastSequence,
            let lock = try? WriterLock.acquire(directory: directory, key: key, io: engine.io)
        else { return }
        defer { lock.releaseNow() }
        let bytes = ["snapshot.fb.zst", "journal.log"].reduce(0) { $0 + ((try? engine.io.fileSize("\(directory)/\($1)")) ?? 0) }
        try? engine.writeSummary(WorkflowSummary(state, storedBytes: bytes), in: directory, durability: .buffered)
    }

    private func verifyNow() throws -> [StoreProblem] {
        try engine.verify { key, directory in
            let path = "\(directory)/journal.log"
            guard engine.io.exists(path) else { return [] }
            do {
                guard let outcome = try readConsistently(key, with: JournalReader(io: engine.io, salvage: true, logger: nil))
                else {
                    return [StoreProblem(path: path, message: "journal without a snapshot")]
                }
                refreshSummary(key, to: outcome.state)
                if let cut = outcome.cutTail, outcome.damageBeforeTail {
                    let message = JournalReader.describeDamageBeforeTail(at: cut.offset, cut.message, intact: outcome.records)
                    return [StoreProblem(path: path, message: message)]
                }
                if let cut = outcome.cutTail {
                    return [StoreProblem(path: path, message: "damaged tail at offset \(cut.offset): \(cut.message)")]
                }
                return []
            } catch {
                return [StoreProblem(error: error.asFlowError)]
            }
        }
    }
}
