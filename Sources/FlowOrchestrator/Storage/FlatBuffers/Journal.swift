import FBSchema
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A workflow's journal opened for appending by the process that holds its writer lock, with a
/// replica of the state the snapshot plus the journal describe (so that loads, validation and
/// compaction need no reading back).
///
/// After any failed write or sync the journal is cut back to its last durable length and the
/// handle refuses every later append: nothing is ever reported durable that is not, and the next
/// writer reopens the state from disk.
final class JournalHandle: @unchecked Sendable {
    // @unchecked: every mutable field is read and written only under `lock`, except
    // `summaryWrittenSequence`, only under `summaryWriteLock`.
    private let lock = NSLock()
    /// The journal's descriptor: open, parked (closed to bound the open files; reopened by the
    /// next write), or closed for good.
    private enum Descriptor {
        case open(Int32)
        case parked
        case closed
    }

    private var descriptor: Descriptor
    /// Whether something was written since the last sync.
    private var unsynced = false
    /// Whether the journal's name (its directory entry) may not be durable yet: it was made or
    /// replaced by a buffered write. Synced before the first write that must be durable.
    private var nameUnsynced = false
    /// What the summary file was last written with, and when (nil: not by this handle).
    private var summarized: (status: WorkflowStatus, counts: [NodeStatus: Int], at: ContinuousClock.Instant)?
    /// Whether appends came too soon after the last summary to rewrite it: the store's flush
    /// timer writes it once the interval has passed (``deferredSummary(interval:)``).
    private var summaryDeferred = false
    /// Serializes the summary file's writes, so that an older state never replaces a newer one.
    private let summaryWriteLock = NSLock()
    /// The sequence number of the last state written as the summary (under `summaryWriteLock`).
    private var summaryWrittenSequence: UInt64?
    private var size: Int64
    private var records: Int
    private(set) var replica: WorkflowState
    private var stopped: FlowError?
    let key: WorkflowKey
    let path: String
    /// The epoch of the writer that opened it: only that writer appends through it.
    let epoch: UInt64

    init(key: WorkflowKey, epoch: UInt64, path: String, fd: Int32, size: Int64, records: Int, replica: WorkflowState) {
        self.key = key
        self.epoch = epoch
        self.path = path
        self.descriptor = .open(fd)
        self.size = size
        self.records = records
        self.replica = replica
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The replica, read under the lock.
    var state: WorkflowState { withLock { replica } }

    /// Appends `events` as one write and, with fsync durability, one `fdatasync`; then applies
    /// them to the replica. Returns whether the journal has grown past the compaction bounds.
    /// `fence` is checked last before the write (`staleWriter`: nothing written).
    func append(
        _ events: [WorkflowEvent], durability: Durability, io: FileIO, bounds: (records: Int, bytes: Int),
        fence: WriterLock
    ) throws -> Bool {
        try withLock {
            if let stopped {
                throw FlowError(
                    .writerStopped, "workflow \(key): an earlier write failed (\(stopped.message)); reopen the workflow",
                    cause: stopped, workflow: key)
            }
            try validate(events)
            try fence.check()
            let fd = try openDescriptor(io: io)
            let frames: FBSBuffer
            do {
                frames = try JournalCodec.encode(events)
            } catch {
                throw FlowError(.invalidArgument, "workflow \(key): \(error.message)", cause: error)
            }
            do {
                try frames.withBytes { try io.pwriteAll(fd, $0, at: size, path: path) }
                unsynced = true
                if durability == .fsync {
                    try io.sync(fd, path: path, dataOnly: true)
                    unsynced = false
                }
                // A journal unlinked while open (its workflow's directory deleted) takes every
                // write and keeps none: the first one after is the failed write.
                try io.requireNamed(fd, path: path)
            } catch {
                // Take back whatever part of the batch reached the file, then refuse to go on.
                _ = io.layer.ftruncate(fd, size)
                var failure = error.asFlowError
                failure.workflow = failure.workflow ?? key
                failure.node = failure.node ?? events.soleNode
                stopped = failure
                throw failure
            }
            size += Int64(frames.count)
            frames.free()
            records += events.count
            for event in events { try replica.apply(event) }
            return records >= bounds.records || size >= Int64(bounds.bytes)
        }
    }

    /// Syncs what was appended without a sync; a failure stops the writer like a failed append.
    func sync(io: FileIO) throws {
        try withLock {
            if let stopped {
                throw FlowError(
                    .writerStopped, "workflow \(key): an earlier write failed (\(stopped.message)); reopen the workflow",
                    cause: stopped, workflow: key)
            }
            do {
                try io.sync(try openDescriptor(io: io), path: path, dataOnly: true)
                unsynced = false
            } catch {
                var failure = error.asFlowError
                failure.workflow = failure.workflow ?? key
                stopped = failure
                throw failure
            }
        }
    }

    /// Says that the journal's name is not durable yet (see ``syncNameIfNeeded(io:)``).
    func markNameUnsynced() { withLock { nameUnsynced = true } }

    /// Syncs the journal's directory when its name may not be durable yet: called before a
    /// write or sync with fsync durability, which must not leave durable records under a name
    /// a power loss could take.
    func syncNameIfNeeded(io: FileIO) throws {
        try withLock {
            guard nameUnsynced else { return }
            do {
                try io.syncDirectory(FileIO.parent(of: path))
            } catch let error as FlowError {
                // Said of the journal, whose records this sync is for.
                guard let call = error.cause as? SystemCallError else { throw error }
                throw FileIO.ioError("syncing the directory of", path, Errno(code: call.errno), call: call.systemCall)
            }
            nameUnsynced = false
        }
    }

    /// Checks that `events` would apply to the replica, before anything is written.
    private func validate(_ events: [WorkflowEvent]) throws {
        var previous = replica.lastSequence
        for event in events {
            do {
                try replica.check(event, following: previous)
            } catch {
                throw FlowError(.invalidArgument, error.message)
            }
            previous = event.sequence
        }
    }

    /// The state to write as the workflow's summary now, if one is due: always when this handle
    /// has written none yet (so a summary a crash left behind is exact again once the workflow is
    /// opened) or the workflow's status changed; when only node counts changed, at most once
    /// per `interval`. The caller writes it. `deferred` is true when this call left a summary for
    /// the flush timer that was not waiting for one before (the caller starts the timer).
    func summaryDue(interval: Duration) -> (state: WorkflowState?, deferred: Bool) {
        withLock {
            let now = ContinuousClock.now
            if let last = summarized, last.status == replica.status {
                if now - last.at < interval {
                    // Counted later by the timer: counting here would cost every append a pass
                    // over the nodes.
                    defer { summaryDeferred = true }
                    return (nil, !summaryDeferred)
                }
                let counts = replica.statusCounts
                if counts == last.counts {
                    summarized = (last.status, counts, now)
                    summaryDeferred = false
                    return (nil, false)
                }
            }
            summarized = (replica.status, replica.statusCounts, now)
            summaryDeferred = false
            return (replica, false)
        }
    }

    /// For the flush timer: the state to write as the summary when appends left one waiting and
    /// `interval` has passed since the last (nil when none is waiting or the counts are what
    /// the summary says), or how long to wait before asking again.
    func deferredSummary(interval: Duration) -> (state: WorkflowState?, retryAfter: Duration?) {
        withLock {
            guard summaryDeferred else { return (nil, nil) }
            guard isUsable else {
                summaryDeferred = false  // released or stopped: the next writer writes its own
                return (nil, nil)
            }
            let now = ContinuousClock.now
            if let last = summarized, now - last.at < interval { return (nil, interval - (now - last.at)) }
            summaryDeferred = false
            let counts = replica.statusCounts
            if let last = summarized, last.status == replica.status, last.counts == counts {
                summarized = (last.status, counts, now)
                return (nil, nil)
            }
            summarized = (replica.status, counts, now)
            return (replica, nil)
        }
    }

    /// Whether the handle may still write (not closed for good, not stopped). Called under the lock.
    private var isUsable: Bool {
        if case .closed = descriptor { return false }
        return stopped == nil
    }

    /// Whether a summary waits for the flush timer.
    var isSummaryDeferred: Bool { withLock { summaryDeferred } }

    /// Runs `write` with `state` unless a newer state was already written as the summary;
    /// summary writes of one handle never overlap.
    func writeSummary(_ state: WorkflowState, _ write: (WorkflowState) throws -> Void) rethrows {
        summaryWriteLock.lock()
        defer { summaryWriteLock.unlock() }
        if let written = summaryWrittenSequence, written > state.lastSequence { return }
        try write(state)
        summaryWrittenSequence = state.lastSequence
    }

    /// The open descriptor, reopening a parked journal. Called under the lock.
    private func openDescriptor(io: FileIO) throws -> Int32 {
        switch descriptor {
        case .open(let fd):
            return fd
        case .parked:
            let fd = try io.open(path, O_WRONLY)
            descriptor = .open(fd)
            return fd
        case .closed:
            throw FlowError(.writerStopped, "workflow \(key): the writer was released", workflow: key)
        }
    }

    /// Closes the descriptor until the next write needs it (the replica and the write position
    /// stay); unsynced writes are synced first, so that no write error goes unseen. Returns
    /// whether a descriptor was closed.
    @discardableResult
    func park(io: FileIO) -> Bool {
        withLock {
            guard case .open(let fd) = descriptor else { return false }
            if unsynced, stopped == nil {
                do {
                    try io.sync(fd, path: path, dataOnly: true)
                    unsynced = false
                } catch {
                    stopped = error.asFlowError
                }
            }
            io.close(fd)
            descriptor = .parked
            return true
        }
    }

    /// Starts over with an empty journal after `state` was saved as the snapshot; `fd` is the
    /// new journal file's descriptor.
    func restart(with state: WorkflowState, fd newFD: Int32, io: FileIO) {
        withLock {
            if case .open(let fd) = descriptor { io.close(fd) }
            descriptor = .open(newFD)
            unsynced = false
            nameUnsynced = false
            size = Int64(FBS_JOURNAL_HEADER_SIZE)
            records = 0
            replica = state
            stopped = nil
        }
    }

    func close(io: FileIO) {
        withLock {
            if case .open(let fd) = descriptor { io.close(fd) }
            descriptor = .closed
            stopped = stopped ?? FlowError(.writerStopped, "workflow \(key): the writer was released", workflow: key)
        }
    }
}

/// Reading journals back: snapshot plus records, the tail rule, and salvage.
struct JournalReader {
    let io: FileIO
    let salvage: Bool
    let logger: Logger?
    /// Bytes a replay reads at a time (tests make it small to put frames across pieces).
    var pieceBytes = Self.replayPieceBytes

    /// `damaged at offset N (WHY) with valid records after it; K records before it are intact`:
    /// the words every report of such damage uses (an error, `verify`).
    static func describeDamageBeforeTail(at offset: Int, _ why: String, intact: Int) -> String {
        "damaged at offset \(offset) (\(why)) with valid records after it; \(intact) record\(intact == 1 ? "" : "s") before it \(intact == 1 ? "is" : "are") intact"
    }

    /// What was read, and where the journal's good prefix ends.
    struct Outcome {
        var state: WorkflowState
        var journalExists: Bool
        var goodEnd: Int
        var records: Int
        var cutTail: (offset: Int, message: String)?
        /// The damage that ended the good prefix has valid records after it (only when
        /// salvaging: otherwise such damage is an error).
        var damageBeforeTail = false
        /// The base sequence in the journal's header (0 when there is no journal).
        var baseSequence: UInt64 = 0
        /// The sequence number the journal's good records end at: its last record's, or the
        /// header's base when it holds none (0 when there is no journal).
        var journalEnd: UInt64 = 0
    }

    /// `snapshot` with every record of the journal at `path` past it applied. A torn or corrupt
    /// tail is left out; damage with valid records after it is a `corruptData` error with the
    /// journal's `path` and the damaged frame's file `offset` unless salvaging (a store opened
    /// with `salvage` keeps the records before it); a journal that does not connect to the
    /// snapshot is `corruptData`.
    ///
    /// The journal is read in pieces of ``replayPieceBytes`` and each piece's records are applied
    /// before the next is read, so the memory a replay needs does not grow with the journal. A
    /// journal that is anything but good records (possibly ending in a torn tail) is read again
    /// whole by ``replayWhole(onto:journal:maxBytes:)``, which classifies the damage against the
    /// rest of the file and says what is wrong exactly as it always has.
    func replay(onto snapshot: WorkflowState, journal path: String, maxBytes: Int) throws -> Outcome {
        guard let fd = try io.openIfExists(path) else {
            return Outcome(state: snapshot, journalExists: false, goodEnd: 0, records: 0)
        }
        let streamed: Outcome?
        do {
            defer { io.close(fd) }
            let size = Int(try io.size(fd, path: path))
            streamed = size <= maxBytes ? try? stream(fd, size: size, onto: snapshot, path: path) : nil
        }
        if let streamed {
            if let cut = streamed.cutTail {
                logger?.warning(
                    "journal tail cut", metadata: ["file": "\(path)", "offset": "\(cut.offset)", "reason": "\(cut.message)"])
            }
            return streamed
        }
        return try replayWhole(onto: snapshot, journal: path, maxBytes: maxBytes)
    }

    /// Bytes a replay reads at a time (a piece grows only to hold one frame larger than this).
    static let replayPieceBytes = 4 << 20

    /// The replay of the `size`-byte journal open at `fd`, piece by piece; nil when the journal
    /// holds anything but good, consecutive records that apply (and at most a torn tail at the
    /// end of the file), so that the whole-file reading decides what it is.
    private func stream(_ fd: Int32, size: Int, onto snapshot: WorkflowState, path: String) throws -> Outcome? {
        let headerSize = Int(FBS_JOURNAL_HEADER_SIZE)
        var capacity = min(max(size, headerSize), max(pieceBytes, headerSize))
        var buffer = AlignedBuffer(count: capacity)
        // The piece in `buffer`: file offset of its first byte, bytes held, where its scan starts.
        var pieceStart = 0
        var filled = 0
        var scanFrom = headerSize
        func fill() throws -> Bool {
            let wanted = min(capacity, size - pieceStart)
            while filled < wanted {
                let rest = UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[filled..<wanted])
                switch FileIO.retrying({ io.layer.pread(fd, rest, Int64(pieceStart + filled)) }) {
                case .success(let read) where read > 0: filled += read
                case .success: return false  // the file shrank: the whole-file reading says so
                case .failure(let errno): throw FileIO.ioError("reading", path, errno, call: "pread")
                }
            }
            return true
        }
        guard try fill(), size >= headerSize else { return nil }
        var header = fbs_journal_header()
        var error = fbs_error()
        guard fbs_journal_header_parse(buffer.bytes.baseAddress, filled, &header, &error) == FBS_OK,
            header.base_sequence <= snapshot.lastSequence
        else { return nil }
        var state = snapshot
        var previous = header.base_sequence
        var records = 0
        while true {
            let piece = UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<filled])
            let scan = JournalCodec.scanFrames(piece, from: scanFrom, base: pieceStart)
            guard scan.newer == nil else { return nil }
            for event in scan.events {
                guard event.sequence == previous &+ 1 else { return nil }
                previous = event.sequence
                if event.sequence > state.lastSequence {
                    guard event.sequence == state.lastSequence + 1, (try? state.apply(event)) != nil else { return nil }
                }
            }
            records += scan.events.count
            let atEnd = pieceStart + filled == size
            if let damage = scan.damage {
                guard scan.cutByEnd else { return nil }
                if atEnd {
                    return Outcome(
                        state: state, journalExists: true, goodEnd: pieceStart + scan.goodEnd, records: records,
                        cutTail: (damage.offset, damage.message), baseSequence: header.base_sequence,
                        journalEnd: previous)
                }
            } else if atEnd {
                return Outcome(
                    state: state, journalExists: true, goodEnd: pieceStart + scan.goodEnd, records: records,
                    baseSequence: header.base_sequence, journalEnd: previous)
            }
            // The next piece starts at the first byte not yet consumed (a frame boundary); a frame
            // (or zero fill) longer than half the piece doubles it, so every piece reads more.
            let carried = filled - scan.goodEnd
            if carried > capacity / 2 {
                capacity *= 2
                let larger = AlignedBuffer(count: capacity)
                larger.mutableBytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer.bytes[scan.goodEnd..<filled]))
                buffer = larger
            } else if carried > 0 {
                buffer.mutableBytes.baseAddress!.copyMemory(
                    from: buffer.bytes.baseAddress! + scan.goodEnd, byteCount: carried)
            }
            pieceStart += scan.goodEnd
            filled = carried
            scanFrom = 0
            guard try fill() else { return nil }
        }
    }

    /// ``replay(onto:journal:maxBytes:)`` with the whole journal read into memory first.
    func replayWhole(onto snapshot: WorkflowState, journal path: String, maxBytes: Int) throws -> Outcome {
        guard let buffer = try io.readFile(path, limit: maxBytes) else {
            return Outcome(state: snapshot, journalExists: false, goodEnd: 0, records: 0)
        }
        let (header, scan) = try JournalCodec.scan(buffer.bytes, path: path)
        var state = snapshot
        guard header.base_sequence <= state.lastSequence else {
            throw FlowError(
                .corruptData,
                "\(path): journal starts after event \(header.base_sequence) but the snapshot ends at \(state.lastSequence): events are missing")
        }
        var outcome = Outcome(
            state: state, journalExists: true, goodEnd: scan.goodEnd, records: scan.events.count,
            baseSequence: header.base_sequence, journalEnd: scan.events.last?.sequence ?? header.base_sequence)
        if let damage = scan.damage {
            if !damage.isTail, !salvage {
                throw FlowError(
                    .corruptData,
                    "\(path): \(Self.describeDamageBeforeTail(at: damage.offset, damage.message, intact: scan.events.count))",
                    path: path, offset: Int64(damage.offset))
            }
            outcome.cutTail = (damage.offset, damage.message)
            outcome.damageBeforeTail = !damage.isTail
        }
        // Records the snapshot already holds are skipped below, but they must follow on too.
        try scan.requireConsecutive(after: header.base_sequence, path: path)
        for event in scan.events where event.sequence > state.lastSequence {
            guard event.sequence == state.lastSequence + 1 else {
                throw FlowError(
                    .corruptData, "\(path): journal jumps from event \(state.lastSequence) to \(event.sequence)")
            }
            do {
                try state.apply(event)
            } catch {
                throw FlowError(.corruptData, "\(path): \(error.message)")
            }
        }
        outcome.state = state
        if let cut = outcome.cutTail {
            logger?.warning(
                "journal tail cut", metadata: ["file": "\(path)", "offset": "\(cut.offset)", "reason": "\(cut.message)"])
        }
        return outcome
    }
}
