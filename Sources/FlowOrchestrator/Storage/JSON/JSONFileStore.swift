/// A file store that keeps each workflow as readable JSON (`ROOT/TENANT/ID/state.json`).
///
/// It has the layout, atomicity, locking, listing, retention and verification of
/// ``FlatBuffersStore`` but keeps no journal: every persistence point rewrites the whole state.
/// It is the baseline the binary store is measured against, and handy for debugging.
public final class JSONFileStore: FileWorkflowStore, @unchecked Sendable {
    /// Opens (creating if needed) a store rooted at `directory`, finishing any transaction a
    /// crash interrupted.
    public convenience init(directory: String) throws {
        try self.init(directory: directory, layer: SystemFileLayer())
    }

    init(directory: String, layer: any FileLayer) throws {
        super.init(
            engine: try FileStoreEngine(
                root: directory, format: JSONSnapshotFormat(), layer: layer, maxFileBytes: 1 << 31))
    }
}
