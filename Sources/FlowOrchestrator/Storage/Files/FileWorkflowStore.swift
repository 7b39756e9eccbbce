import Foundation

/// What every file store offers: the layout `ROOT/TENANT/WORKFLOW_ID/`, atomic snapshot
/// replacement (temporary file, fsync, rename, fsync of the directory), one writer per workflow
/// across processes (an advisory lock naming the holder's pid), listing from small summary files,
/// retention, stats, verification and multi-workflow transactions.
///
/// Use ``FlatBuffersStore`` (durable default) or ``JSONFileStore`` (readable baseline).
public class FileWorkflowStore: TransactionalWorkflowStore, @unchecked Sendable {
    // @unchecked: every stored property is an immutable reference to a Sendable object.
    let engine: FileStoreEngine

    init(engine: FileStoreEngine) {
        self.engine = engine
    }

    /// The store's root directory, absolute.
    public var directory: String { engine.root }

    /// The directory holding `key`'s files (`ROOT/TENANT/ID`); flowctl keeps node logs there.
    public func directory(for key: WorkflowKey) -> String { engine.directory(key) }

    public var supportsJournal: Bool { false }

    /// Stores without a journal refuse appends (`supportsJournal` is false); see
    /// ``FlatBuffersStore/append(_:to:durability:)``.
    public func append(_ events: [WorkflowEvent], to key: WorkflowKey, durability: Durability) async throws {
        throw FlowError(.invalidArgument, "\(type(of: self)) keeps no journal; save a snapshot instead")
    }

    /// Replaces the workflow's snapshot atomically; durable on return when `durability` is
    /// `fsync` (file and directory synced). A crash during the call leaves the old snapshot or
    /// the new one.
    public func save(_ state: WorkflowState, durability: Durability) async throws {
        try engine.save(state, durability: durability)
    }

    /// The workflow's state; `notFound`, or `corruptData` naming the file and offset.
    public func load(_ key: WorkflowKey) async throws -> WorkflowState {
        try engine.load(key)
    }

    /// One page of workflows, answered from summary files without reading snapshots. Workflows
    /// whose files cannot be read are left out (``verify()`` reports them).
    public func list(_ query: WorkflowQuery) async throws -> WorkflowPage {
        try engine.list(query)
    }

    /// Removes the workflow's directory; refused (`locked`) while a writer holds it. Atomic and
    /// durable on return: the directory is renamed away (synced) before its files are removed,
    /// so a crash leaves the workflow whole or gone.
    public func delete(_ key: WorkflowKey) async throws {
        try engine.delete(key)
    }

    /// Takes the workflow's writer lock; `locked` names the holder's pid. The lock is released
    /// by the lease, or by the kernel when the holder dies.
    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowLease {
        try engine.acquireWriter(key)
    }

    /// Saves every state or none, even across a crash: all files are written and synced aside,
    /// an intent record is made durable, then the files are renamed into place. A store opened
    /// after a crash finishes any transaction whose intent is durable. The call takes the
    /// workflows' writer locks itself (`locked` if one is held, including by the caller).
    /// Durable on return.
    public func saveAll(_ states: [WorkflowState], durability: Durability = .fsync) async throws {
        let keys = try states.map { try WorkflowKey(tenant: $0.tenant, id: $0.id) }
        guard Set(keys).count == keys.count else {
            throw FlowError(.invalidArgument, "a transaction saves one of \(keys.map(\.description)) twice")
        }
        var locks: [WriterLock] = []
        defer { locks.forEach { $0.releaseNow() } }
        for key in keys.sorted() {
            locks.append(try WriterLock.acquire(directory: engine.directory(key), key: key, io: engine.io))
        }
        try checkTransaction(states)
        try prepareTransaction(keys)
        try engine.saveAll(states, durability: durability, extraFiles: transactionFiles(for:))
        try finishTransaction(states)
    }

    /// Deletes finished workflows last changed before `cutoff`, skipping any with an active
    /// writer; returns what was deleted. Each deletion is confirmed from the workflow's full
    /// state under its writer lock, and is atomic: a crash leaves the workflow whole or gone.
    public func purge(finishedBefore cutoff: Date, tenant: String? = nil) async throws -> [WorkflowKey] {
        try engine.purge(finishedBefore: cutoff, tenant: tenant, loadState: stateOnDisk)
    }

    // MARK: Hooks for stores with more files than a snapshot

    /// The full state on disk (a subclass adds what its other files hold).
    func stateOnDisk(_ key: WorkflowKey) throws -> WorkflowState { try engine.load(key) }
    /// Files a transaction writes next to each snapshot and summary.
    func transactionFiles(for state: WorkflowState) throws -> [(name: String, bytes: [UInt8])] { [] }
    /// Refuses a transaction before anything changes, with the writer locks held.
    func checkTransaction(_ states: [WorkflowState]) throws {}
    /// Runs before a transaction's files are written, with the writer locks held.
    func prepareTransaction(_ keys: [WorkflowKey]) throws {}
    /// Runs after a transaction landed.
    func finishTransaction(_ states: [WorkflowState]) throws {}

    /// Counts and bytes over the whole store.
    public func stats() async throws -> StoreStats {
        try engine.stats()
    }

    /// Reads every file and reports each problem with its path and offset; an empty list means
    /// the store is sound.
    public func verify() async throws -> [StoreProblem] {
        try engine.verify()
    }
}
