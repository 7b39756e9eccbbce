import Foundation

/// What every file store offers: the layout `ROOT/TENANT/WORKFLOW_ID/`, atomic snapshot
/// replacement (temporary file, fsync, rename, fsync of the directory), one writer per workflow
/// across processes (an advisory lock naming the holder's pid, and a fencing epoch in the same
/// file), listing from small summary files, retention, stats, verification and multi-workflow
/// transactions.
///
/// Use ``FlatBuffersStore`` (durable default) or ``JSONFileStore`` (readable baseline).
public protocol FileWorkflowStore: TransactionalWorkflowStore {
    /// The store's root directory, absolute.
    var directory: String { get }

    /// The directory holding `key`'s files (`ROOT/TENANT/ID`); flowctl keeps node logs there.
    func directory(for key: WorkflowKey) -> String

    /// Deletes finished workflows last changed before `cutoff`, skipping any with an active
    /// writer; returns what was deleted. Each deletion is confirmed from the workflow's full
    /// state under its writer lock, and is atomic: a crash leaves the workflow whole or gone.
    func purge(finishedBefore cutoff: Date, tenant: String?) async throws -> [WorkflowKey]

    /// Counts and bytes over the whole store.
    func stats() async throws -> StoreStats

    /// Reads every file and reports each problem with its path and offset; an empty list means
    /// the store is sound.
    func verify() async throws -> [StoreProblem]
}

extension FileWorkflowStore {
    /// Deletes finished workflows of every tenant last changed before `cutoff`.
    public func purge(finishedBefore cutoff: Date) async throws -> [WorkflowKey] {
        try await purge(finishedBefore: cutoff, tenant: nil)
    }
}

/// What a store with more files than a snapshot adds to a transaction
/// (``FileStoreEngine/transact(_:durability:hooks:)``).
struct TransactionHooks: Sendable {
    /// Refuses a transaction before anything changes, with the writer locks held.
    var check: @Sendable ([WorkflowState]) throws -> Void = { _ in }
    /// Runs before the files are written, with the writer locks held.
    var prepare: @Sendable ([WorkflowKey]) throws -> Void = { _ in }
    /// Files written next to each snapshot and summary.
    var extraFiles: @Sendable (WorkflowState) throws -> [(name: String, bytes: [UInt8])] = { _ in [] }
}
