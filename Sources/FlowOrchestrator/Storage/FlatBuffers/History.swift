import FBSchema
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A workflow's event history: the journal, plus the epochs compaction archived.
///
/// An *epoch* is a snapshot at sequence B and the journal of the events after B. Compaction
/// and whole-state saves end the current epoch: with `keepHistory` on, its snapshot and journal
/// are hard-linked into `ID/history/` as `B.snapshot.fb.zst` and `B.journal.log` (B written
/// with 20 digits so names sort) before the new snapshot replaces them.
extension FlatBuffersStore {
    private func historyDirectory(_ key: WorkflowKey) -> String { "\(engine.directory(key))/history" }

    private static func epochName(_ base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The base sequence of the journal at `path`, if it exists and holds at least one record.
    func journalBase(_ path: String, requireRecords: Bool) throws -> UInt64? {
        guard let fd = try engine.io.openIfExists(path) else { return nil }
        defer { engine.io.close(fd) }
        let size = try engine.io.size(fd, path: path)
        if requireRecords, size <= Int64(FBS_JOURNAL_HEADER_SIZE) { return nil }
        let header = try engine.io.read(fd, at: 0, count: Int(FBS_JOURNAL_HEADER_SIZE), path: path)
        var parsed = fbs_journal_header()
        var error = fbs_error()
        guard fbs_journal_header_parse(header.bytes.baseAddress, header.count, &parsed, &error) == FBS_OK else {
            throw FlowError(.corruptData, "\(path): bad journal header: \(error.text)")
        }
        return parsed.base_sequence
    }

    /// Links the current epoch's snapshot and journal into `history/`, when history is kept and
    /// the journal holds records. Linking twice (after a crash) is harmless.
    func archiveEpoch(_ key: WorkflowKey) throws {
        guard options.keepHistory else { return }
        let directory = engine.directory(key)
        guard let base = try journalBase("\(directory)/journal.log", requireRecords: true) else { return }
        let history = historyDirectory(key)
        try engine.io.makeDirectories(history, durability: .fsync)
        let name = Self.epochName(base)
        if access("\(directory)/snapshot.fb.zst", F_OK) == 0 {
            try engine.io.link("\(directory)/snapshot.fb.zst", to: "\(history)/\(name).snapshot.fb.zst")
        }
        try engine.io.link("\(directory)/journal.log", to: "\(history)/\(name).journal.log")
        try engine.io.syncDirectory(history)
    }

    /// The journal files of `key` in order: archived epochs, then the current journal.
    private func journalSegments(_ key: WorkflowKey) throws -> [String] {
        let history = historyDirectory(key)
        let archived = try engine.io.list(history).filter { $0.hasSuffix(".journal.log") }.map { "\(history)/\($0)" }
        let current = journalPath(key)
        return archived + (access(current, F_OK) == 0 ? [current] : [])
    }

    /// Every recorded event of `key` with a sequence number of at least `from`, in order, up to
    /// `limit` events.
    ///
    /// Events are recorded with the `node` persistence strategy; what compaction folded away is
    /// kept when `keepHistory` is on. Throws `notFound` for an unknown workflow and
    /// `corruptData` for damage (a torn tail of the current journal is left out), and
    /// `historyUnavailable` for events that were never journaled or were compacted away.
    public func history(_ key: WorkflowKey, from: UInt64 = 1, limit: Int = .max) async throws -> [WorkflowEvent] {
        try await IOThreadPool.shared.run { try self.historyEvents(key, from: max(1, from), through: .max, limit: limit) }
    }

    func historyEvents(_ key: WorkflowKey, from: UInt64, through last: UInt64, limit: Int) throws -> [WorkflowEvent] {
        guard engine.exists(key) else { throw FlowError(.notFound, "workflow \(key) not found in \(engine.root)") }
        var events: [WorkflowEvent] = []
        var next = from
        for path in try journalSegments(key) {
            guard let buffer = try engine.io.readFile(path, limit: options.maxJournalBytes) else { continue }
            let (header, scan) = try JournalCodec.scan(buffer.bytes, path: path)
            if let damage = scan.damage, !damage.isTail {
                throw FlowError(.corruptData, "\(path): damaged at offset \(damage.offset) (\(damage.message))")
            }
            // The first wanted event is at or before this journal's base, and no earlier journal
            // held it: it was compacted away. Said here, not only at the next record, because after
            // a compaction the journal may hold none. (A gap after events already found is a
            // whole-state save's jump; it ends the history, as before.)
            if header.base_sequence >= next, events.isEmpty {
                guard next <= last, limit > 0 else { return events }
                // With keepHistory on, compaction archives what it folds away; with nothing
                // archived, the events before the current journal were never journaled.
                if options.keepHistory, path == journalPath(key) {
                    throw FlowError(
                        .historyUnavailable,
                        "workflow \(key): events \(next) to \(header.base_sequence) were never journaled: it was saved as whole states (the end or level persistence strategy), which keep the state, not the events")
                }
                throw FlowError(
                    .historyUnavailable,
                    "workflow \(key): events \(next) to \(header.base_sequence) are not in its history (compacted away without keepHistory, or lost)")
            }
            // The rule replay applies, so that history never serves a journal that load refuses.
            try scan.requireConsecutive(after: header.base_sequence, path: path)
            for event in scan.events where event.sequence >= next {
                guard event.sequence == next else {
                    throw FlowError(
                        .historyUnavailable,
                        "workflow \(key): events \(next) to \(event.sequence - 1) are not in its history (compacted away without keepHistory, or lost)")
                }
                guard event.sequence <= last, events.count < limit else { return events }
                events.append(event)
                next += 1
            }
        }
        return events
    }

    /// The state `key` had right after event `sequence` (0: before the first event): the newest
    /// kept snapshot at or before it, with the recorded events up to it replayed.
    public func state(_ key: WorkflowKey, at sequence: UInt64) async throws -> WorkflowState {
        guard let (current, _, _) = try engine.loadSnapshot(key) else {
            throw FlowError(.notFound, "workflow \(key) not found in \(engine.root)")
        }
        let latest = try await load(key)
        guard sequence <= latest.lastSequence else {
            throw FlowError(
                .invalidArgument, "workflow \(key) has \(latest.lastSequence) events; there is no event \(sequence)")
        }
        var base: WorkflowState?
        if current.lastSequence <= sequence {
            base = current
        } else {
            let history = historyDirectory(key)
            let snapshots = try engine.io.list(history).filter { $0.hasSuffix(".snapshot.fb.zst") }.reversed()
            for name in snapshots {
                guard let epoch = UInt64(name.prefix(20)), epoch <= sequence else { continue }
                let path = "\(history)/\(name)"
                guard let buffer = try engine.io.readFile(path, limit: options.maxSnapshotBytes) else { continue }
                let state = try engine.format.decode(buffer, path: path).validated(path: path, nodeNamesChecked: true)
                if state.lastSequence <= sequence {
                    base = state
                    break
                }
            }
        }
        guard var state = base else {
            throw FlowError(
                .historyUnavailable, "workflow \(key): no kept snapshot at or before event \(sequence) (history was compacted away)")
        }
        if state.lastSequence < sequence {
            let events = try historyEvents(key, from: state.lastSequence + 1, through: sequence, limit: .max)
            try state.apply(events)
            guard state.lastSequence == sequence else {
                throw FlowError(.historyUnavailable, "workflow \(key): its recorded history stops at event \(state.lastSequence)")
            }
        }
        return state
    }
}
