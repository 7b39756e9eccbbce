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
    // @unchecked: every mutable field is read and written only under `lock`.
    private let lock = NSLock()
    private var fd: Int32
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
        self.fd = fd
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
                    cause: stopped)
            }
            try validate(events)
            try fence.check()
            let frames: FBSBuffer
            do {
                frames = try JournalCodec.encode(events)
            } catch {
                throw FlowError(.invalidArgument, "workflow \(key): \(error.message)", cause: error)
            }
            defer { frames.free() }
            do {
                try io.pwriteAll(fd, frames.bytes, at: size, path: path)
                if durability == .fsync { try io.sync(fd, path: path, dataOnly: true) }
                // A journal unlinked while open (its workflow's directory deleted) takes every
                // write and keeps none: the first one after is the failed write.
                try io.requireNamed(fd, path: path)
            } catch {
                // Take back whatever part of the batch reached the file, then refuse to go on.
                _ = io.layer.ftruncate(fd, size)
                let failure = error.asFlowError
                stopped = failure
                throw failure
            }
            size += Int64(frames.bytes.count)
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
                    cause: stopped)
            }
            do {
                try io.sync(fd, path: path, dataOnly: true)
            } catch {
                let failure = error.asFlowError
                stopped = failure
                throw failure
            }
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

    /// Starts over with an empty journal after `state` was saved as the snapshot; `fd` is the
    /// new journal file's descriptor.
    func restart(with state: WorkflowState, fd newFD: Int32, io: FileIO) {
        withLock {
            io.close(fd)
            fd = newFD
            size = Int64(FBS_JOURNAL_HEADER_SIZE)
            records = 0
            replica = state
            stopped = nil
        }
    }

    func close(io: FileIO) {
        withLock {
            if fd >= 0 { io.close(fd) }
            fd = -1
            stopped = stopped ?? FlowError(.writerStopped, "workflow \(key): the writer was released")
        }
    }
}

/// Reading journals back: snapshot plus records, the tail rule, and salvage.
struct JournalReader {
    let io: FileIO
    let salvage: Bool
    let logger: Logger?

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
    func replay(onto snapshot: WorkflowState, journal path: String, maxBytes: Int) throws -> Outcome {
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
