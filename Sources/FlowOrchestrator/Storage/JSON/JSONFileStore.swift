import Foundation

/// A file store that keeps each workflow as readable JSON (`ROOT/TENANT/ID/state.json`).
///
/// It has the layout, atomicity, locking, listing, retention and verification of
/// ``FlatBuffersStore`` but keeps no journal: every persistence point rewrites the whole state.
/// It is the baseline the binary store is measured against, and handy for debugging.
public final class JSONFileStore: FileWorkflowStore {
    let engine: FileStoreEngine

    /// Opens (creating if needed) a store rooted at `directory`, finishing any transaction a
    /// crash interrupted.
    public convenience init(directory: String) throws {
        try self.init(directory: directory, layer: SystemFileLayer())
    }

    init(directory: String, layer: any FileLayer) throws {
        engine = try FileStoreEngine(
            root: directory, format: JSONSnapshotFormat(), layer: layer, maxFileBytes: 1 << 31)
    }

    public var directory: String { engine.root }

    public func directory(for key: WorkflowKey) -> String { engine.directory(key) }

    /// The workflow's state; `notFound`, or `corruptData` naming the file and offset.
    public func load(_ key: WorkflowKey) async throws -> WorkflowState {
        try await IOThreadPool.shared.run { try self.engine.load(key) }
    }

    /// One page of workflows, answered from summary files without reading snapshots. Workflows
    /// whose files cannot be read are left out (``verify()`` reports them).
    public func list(_ query: WorkflowQuery) async throws -> WorkflowPage {
        try await IOThreadPool.shared.run { try self.engine.list(query) }
    }

    /// Removes the workflow's directory; refused (`locked`) while a writer holds it. Atomic and
    /// durable on return: the directory is renamed away (synced) before its files are removed,
    /// so a crash leaves the workflow whole or gone.
    public func delete(_ key: WorkflowKey) async throws {
        try await IOThreadPool.shared.run { try self.engine.delete(key) }
    }

    /// Takes the workflow's writer lock and raises its epoch (synced before this returns);
    /// `locked` names the holder's pid. The lock is released by the writer, or by the kernel
    /// when the holder dies.
    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        let engine = engine
        return try await IOThreadPool.shared.run { Writer(engine: engine, lock: try engine.acquireWriter(key)) }
    }

    /// A writer that skips the `flock` (tests of fencing stand for a program that skips it).
    func acquireWriterIgnoringLock(_ key: WorkflowKey) throws -> any WorkflowWriter {
        Writer(engine: engine, lock: try engine.acquireWriter(key, ignoringHolder: true))
    }

    private struct Writer: WorkflowWriter {
        let engine: FileStoreEngine
        let lock: WriterLock
        var key: WorkflowKey { lock.key }
        var epoch: UInt64 { lock.epoch }

        /// Replaces the workflow's snapshot atomically; durable on return when `durability` is
        /// `fsync` (file and directory synced). A crash during the call leaves the old snapshot
        /// or the new one.
        func save(_ state: WorkflowState, durability: Durability) async throws {
            guard state.tenant == key.tenant, state.id == key.id else { throw FlowError.wrongWorkflow(state, writer: key) }
            try await IOThreadPool.shared.run { [engine, lock] in
                try lock.check()
                try engine.save(state, durability: durability)
            }
        }

        /// Refused: this store keeps no journal (`supportsJournal` is false).
        func append(_ events: [WorkflowEvent], durability: Durability) async throws {
            throw FlowError(.invalidArgument, "JSONFileStore keeps no journal; save a snapshot instead")
        }

        func release() async { lock.releaseNow() }
    }

    /// Saves every state or none, even across a crash: all files are written and synced aside,
    /// an intent record is made durable, then the files are renamed into place. A store opened
    /// after a crash finishes any transaction whose intent is durable. The call takes the
    /// workflows' writer locks itself (`locked` if one is held, including by the caller).
    /// Durable on return.
    public func saveAll(_ states: [WorkflowState], durability: Durability = .fsync) async throws {
        try await IOThreadPool.shared.run { try self.engine.transact(states, durability: durability) }
    }

    public func purge(finishedBefore cutoff: Date, tenant: String? = nil) async throws -> [WorkflowKey] {
        try await IOThreadPool.shared.run { try self.engine.purge(finishedBefore: cutoff, tenant: tenant, loadState: self.engine.load) }
    }

    public func stats() async throws -> StoreStats {
        try await IOThreadPool.shared.run { try self.engine.stats() }
    }

    public func verify() async throws -> [StoreProblem] {
        try await IOThreadPool.shared.run { try self.engine.verify() }
    }
}
