import Synchronization

/// The journals a ``FlatBuffersStore`` has open for appending, one per workflow whose writer
/// has appended. A handle belongs to the writer (epoch) that opened it.
///
/// At most `limit` of them keep a descriptor open: when a write opens one more, the least
/// recently written is parked (its descriptor closed, its replica and position kept; its next
/// write reopens it), so that many workflows of one process share a bounded number of files.
final class OpenJournals: Sendable {
    private struct State {
        var handles: [WorkflowKey: JournalHandle] = [:]
        /// The handles believed to hold a descriptor, with when each was last written.
        var open: [WorkflowKey: UInt64] = [:]
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())
    /// The most descriptors kept open.
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The open journal of `key`, if any.
    subscript(key: WorkflowKey) -> JournalHandle? {
        state.withLock { $0.handles[key] }
    }

    /// Adds `handle` unless `key` has one already, which is returned instead.
    func insert(_ handle: JournalHandle) -> JournalHandle? {
        state.withLock { state in
            if let existing = state.handles[handle.key] { return existing }
            state.handles[handle.key] = handle
            return nil
        }
    }

    /// Takes `key`'s handle out (only the one of `epoch`, when given); the caller closes it.
    func remove(_ key: WorkflowKey, epoch: UInt64? = nil) -> JournalHandle? {
        state.withLock { state in
            guard let handle = state.handles[key], epoch == nil || handle.epoch == epoch else { return nil }
            state.open[key] = nil
            return state.handles.removeValue(forKey: key)
        }
    }

    /// Notes that `key`'s journal was just written (so holds a descriptor), and parks the least
    /// recently written ones while more than `limit` are open.
    func written(_ key: WorkflowKey, io: FileIO) {
        let victims = state.withLock { state -> [JournalHandle] in
            state.clock += 1
            state.open[key] = state.clock
            var victims: [JournalHandle] = []
            while state.open.count > limit {
                guard let oldest = state.open.filter({ $0.key != key }).min(by: { $0.value < $1.value })?.key else { break }
                state.open[oldest] = nil
                if let handle = state.handles[oldest] { victims.append(handle) }
            }
            return victims
        }
        for handle in victims { handle.park(io: io) }
    }

    /// How many journals are believed to hold a descriptor.
    var openCount: Int { state.withLock { $0.open.count } }
}
