/// A store that keeps a workflow's events, not only its state: the journaling stores
/// (``FlatBuffersStore`` on files, ``InMemoryStore`` in memory), so that tests and ephemeral
/// runs read the same history a durable run leaves.
///
/// Events are kept when the workflow is run with the `node` persistence strategy (each status
/// change journaled); a workflow saved only as whole states (`end`, `level`) has a state but no
/// events, and asking for them throws `historyUnavailable` saying so.
public protocol EventStore: WorkflowStore {
    /// Every recorded event of `key` with a sequence number of at least `from`, in order, up to
    /// `limit` events. Throws `notFound` for an unknown workflow and `historyUnavailable` for
    /// events that were never journaled or are no longer kept.
    func history(_ key: WorkflowKey, from: UInt64, limit: Int) async throws -> [WorkflowEvent]

    /// The state `key` had right after event `sequence` (0: before the first event). Throws
    /// `invalidArgument` past the last event and `historyUnavailable` when the events that lead
    /// there are not kept.
    func state(_ key: WorkflowKey, at sequence: UInt64) async throws -> WorkflowState
}

extension EventStore {
    /// Every recorded event of `key`, from the first kept one on.
    public func history(_ key: WorkflowKey) async throws -> [WorkflowEvent] {
        try await history(key, from: 1, limit: .max)
    }
}

extension FlatBuffersStore: EventStore {}
