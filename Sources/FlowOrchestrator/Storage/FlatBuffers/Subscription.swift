import FBSchema
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Following a workflow's journal as it grows, from this process or another one, and named
/// consumers that remember how far they got.
extension FlatBuffersStore {
    /// The events of `key` from sequence `from` on: first those already recorded (from the
    /// archived epochs and the journal), then each new one as it is journaled, by any process.
    ///
    /// Every event comes exactly once and in order, across the switch from catching up to
    /// following and across compactions (as long as history is kept). A workflow not created yet
    /// is waited for while following. The files are polled every `subscription.pollInterval`.
    /// Errors: `notFound` (without `follow`), `corruptData` (damage), `historyUnavailable` (a
    /// part of the history that is gone).
    public func events(
        _ key: WorkflowKey, from: UInt64, subscription: EventSubscription
    ) -> AsyncThrowingStream<WorkflowEvent, any Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            let task = Task {
                do {
                    try await self.follow(key, from: max(1, from), subscription) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func follow(
        _ key: WorkflowKey, from: UInt64, _ subscription: EventSubscription, emit: (WorkflowEvent) -> Void
    ) async throws {
        let (follow, untilFinished) = (subscription.follow, subscription.untilFinished)
        var next = from
        var position: (base: UInt64, offset: Int64)?
        var finished = false
        func deliver(_ event: WorkflowEvent) throws {
            guard event.sequence >= next else { return }
            guard event.sequence == next else {
                throw FlowError(
                    .corruptData, "workflow \(key): events \(next) to \(event.sequence - 1) are missing from its journal")
            }
            emit(event)
            next += 1
            if event.kind == .workflowFinished { finished = true }
        }
        while !Task.isCancelled {
            let path = journalPath(key)
            if let fd = try engine.io.openIfExists(path) {
                defer { engine.io.close(fd) }
                let header = try engine.io.read(fd, at: 0, count: Int(FBS_JOURNAL_HEADER_SIZE), path: path)
                var parsed = fbs_journal_header()
                var error = fbs_error()
                guard fbs_journal_header_parse(header.bytes.baseAddress, header.count, &parsed, &error) == FBS_OK else {
                    throw FlowError(.corruptData, "\(path): bad journal header: \(error.text)")
                }
                if position?.base != parsed.base_sequence {
                    // A new epoch (or the first look): what came before it is in the archives.
                    if next <= parsed.base_sequence {
                        for event in try historyEvents(key, from: next, through: parsed.base_sequence, limit: .max) {
                            try deliver(event)
                        }
                        guard next > parsed.base_sequence else {
                            throw FlowError(
                                .historyUnavailable,
                                "workflow \(key): events \(next) to \(parsed.base_sequence) were compacted away (keepHistory is off)")
                        }
                    }
                    position = (parsed.base_sequence, Int64(FBS_JOURNAL_HEADER_SIZE))
                }
                let size = try engine.io.size(fd, path: path)
                if let offset = position?.offset, size > offset {
                    let fresh = try engine.io.read(fd, at: offset, count: Int(size - offset), path: path)
                    let scan = JournalCodec.scanFrames(fresh.bytes, from: 0, base: Int(offset))
                    for event in scan.events { try deliver(event) }
                    try scan.requireKnownRecords(path: path)
                    position?.offset = offset + Int64(scan.goodEnd)
                    if let damage = scan.damage, !damage.isTail {
                        throw FlowError(.corruptData, "\(path): damaged at offset \(damage.offset) (\(damage.message))")
                    }
                    // A damaged tail may be a record still being written: look again next time.
                }
            } else if !engine.exists(key) {
                guard follow else { throw FlowError(.notFound, "workflow \(key) not found in \(engine.root)") }
                // Not created yet: wait for it.
                subscriptionWaits.add(1, ordering: .relaxed)
            }
            if !follow || (untilFinished && finished) { return }
            // Caught up past the end of a finished workflow: no workflowFinished event is coming.
            // (The summary's status is rewritten at every status change.)
            if untilFinished, let summary = engine.summary(key), summary.status.isFinished, summary.lastSequence < next {
                return
            }
            try await Task.sleep(for: subscription.pollInterval)
        }
    }

    // MARK: Consumers

    private func consumerPath(_ consumer: String, _ key: WorkflowKey) throws -> String {
        try Names.validate(consumer, as: "consumer", code: .invalidID)
        return "\(engine.directory(key))/consumers/\(consumer).position"
    }

    /// The last sequence number `consumer` acknowledged for `key`; 0 when it never did.
    public func position(of consumer: String, for key: WorkflowKey) async throws -> UInt64 {
        let path = try consumerPath(consumer, key)
        guard let buffer = try await IOThreadPool.shared.run({ try self.engine.io.readFile(path, limit: 64) }) else { return 0 }
        let text = String(decoding: buffer.bytes, as: UTF8.self)
        guard text.hasSuffix("\n"), let sequence = UInt64(text.dropLast()) else {
            throw FlowError(.corruptData, "\(path): not a consumer position")
        }
        return sequence
    }

    /// Records that `consumer` has handled every event of `key` up to `sequence`; durable on
    /// return (atomic replace, synced). Positions never move backwards.
    public func acknowledge(_ consumer: String, for key: WorkflowKey, through sequence: UInt64) async throws {
        let path = try consumerPath(consumer, key)
        guard sequence > (try await position(of: consumer, for: key)) else { return }
        try await IOThreadPool.shared.run { [engine] in
            try engine.io.makeDirectories(FileIO.parent(of: path), durability: .fsync)
            try Array("\(sequence)\n".utf8).withUnsafeBytes { bytes in
                try engine.io.replaceAtomically(path, with: bytes, durability: .fsync)
            }
        }
    }
}
