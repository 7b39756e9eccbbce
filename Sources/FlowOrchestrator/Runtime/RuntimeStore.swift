import Foundation

/// The durable records a ``WorkflowRuntime`` coordinates through: run records, queue entries,
/// queue configuration, concurrency slots, rate-limit starts and cancel requests (see
/// docs/adr/0011-runtime-claims-queues-cancellation.md).
///
/// Every decision a process makes is derived from these records plus one liveness primitive
/// (``isOwned(_:)``): on files, the `flock` of the workflow's writer lock, which the kernel
/// drops when its process dies; on PostgreSQL (next), a lease row renewed by a heartbeat.
/// ``FileRuntimeStore`` keeps them under a ``FlatBuffersStore``'s directory.
public protocol RuntimeStore: Sendable {
    /// Where the workflows' states live.
    var workflows: any WorkflowStore { get }

    /// The run record of `key`; nil when the workflow was not started by a runtime (or not yet).
    func runRecord(_ key: WorkflowKey) async throws -> RunRecord?

    /// Stores `record` for `key` unless one is stored already; returns the one that was there
    /// (nil when `record` was stored). Durable on return.
    func createRunRecord(_ record: RunRecord, for key: WorkflowKey) async throws -> RunRecord?

    /// Adds `entry` to its queue's ready index (nothing when it is there). Durable on return.
    func enqueue(_ entry: QueueEntry) async throws

    /// Removes `entry` from its queue's ready index (nothing when it is gone). Called only once
    /// the workflow's final status is durable; the removal itself need not be durable, since a
    /// claimer that finds an entry whose workflow is final removes it.
    func dequeue(_ entry: QueueEntry) async throws

    /// Whether `entry` is in its queue's ready index.
    func isQueued(_ entry: QueueEntry) async throws -> Bool

    /// The names of the queues that have entries or a configuration.
    func queueNames() async throws -> [String]

    /// The entries of `queue`, in claim order.
    func entries(in queue: String) async throws -> [QueueEntry]

    /// The configuration of `queue` (the default, no limits, when none is stored).
    func queueConfig(_ queue: String) async throws -> QueueConfig

    /// Replaces the configuration of `queue`. Durable on return.
    func setQueueConfig(_ config: QueueConfig, for queue: String) async throws

    /// Takes one of `queue`'s `limit` global concurrency slots, held until the slot is released
    /// (or its process dies); nil when every slot is taken.
    func claimSlot(queue: String, limit: Int) async throws -> (any RuntimeSlot)?

    /// Records a start of `queue` now unless `count` starts were recorded in the last `period`;
    /// returns nil when the start was recorded, else the time the oldest of them leaves the window.
    func reserveStart(queue: String, count: Int, period: Duration, now: Date) async throws -> Date?

    /// Whether a live process holds `key`'s writer right now.
    func isOwned(_ key: WorkflowKey) async throws -> Bool

    /// Records a request to cancel `key` with `reason` (the first request's reason is kept).
    /// Durable on return; never removed while the workflow exists.
    func requestCancel(_ key: WorkflowKey, reason: String) async throws

    /// The reason of `key`'s cancel request; nil when there is none.
    func cancelRequest(_ key: WorkflowKey) async throws -> String?

    /// The cancel requests among `keys`, by key: one cheap check per workflow.
    func cancelRequests(_ keys: [WorkflowKey]) async throws -> [WorkflowKey: String]
}

/// A held global concurrency slot of a queue.
public protocol RuntimeSlot: Sendable {
    /// Gives the slot back; calling it twice is harmless.
    func release()
}
