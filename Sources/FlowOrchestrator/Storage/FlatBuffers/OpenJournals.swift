import Synchronization

/// The journals a ``FlatBuffersStore`` has open for appending, one per workflow whose writer
/// has appended. A handle belongs to the writer (epoch) that opened it.
final class OpenJournals: Sendable {
    private let handles = Mutex<[WorkflowKey: JournalHandle]>([:])

    /// The open journal of `key`, if any.
    subscript(key: WorkflowKey) -> JournalHandle? {
        handles.withLock { $0[key] }
    }

    /// Adds `handle` unless `key` has one already, which is returned instead.
    func insert(_ handle: JournalHandle) -> JournalHandle? {
        handles.withLock { handles in
            if let existing = handles[handle.key] { return existing }
            handles[handle.key] = handle
            return nil
        }
    }

    /// Takes `key`'s handle out (only the one of `epoch`, when given); the caller closes it.
    func remove(_ key: WorkflowKey, epoch: UInt64? = nil) -> JournalHandle? {
        handles.withLock { handles in
            guard let handle = handles[key], epoch == nil || handle.epoch == epoch else { return nil }
            return handles.removeValue(forKey: key)
        }
    }
}
