/// The durable default: per workflow a zstd-compressed FlatBuffers snapshot
/// (`ROOT/TENANT/ID/snapshot.fb.zst`), readable with `zstd -d` and `flatc --json`, plus a
/// small summary for listing. See docs/format.md.
public final class FlatBuffersStore: FileWorkflowStore, @unchecked Sendable {
    /// Settings of a FlatBuffers store.
    public struct Options: Sendable {
        /// The zstd level for snapshots (1 fast … 19 small; negative levels faster still), or nil
        /// for no compression (the frame and its checksum are kept, so every load is checked).
        public var compressionLevel: Int32?
        /// The largest snapshot accepted when loading, compressed or not; a zstd frame that
        /// declares more is refused as a decompression bomb.
        public var maxSnapshotBytes: Int

        /// Options with every field given.
        public init(compressionLevel: Int32? = 1, maxSnapshotBytes: Int = 1 << 30) {
            self.compressionLevel = compressionLevel
            self.maxSnapshotBytes = min(maxSnapshotBytes, Int(Int32.max))
        }
    }

    /// The options the store was opened with.
    public let options: Options

    /// Opens (creating if needed) a store rooted at `directory`, finishing any transaction a
    /// crash interrupted.
    public convenience init(directory: String, options: Options = Options()) throws {
        try self.init(directory: directory, options: options, layer: SystemFileLayer())
    }

    init(directory: String, options: Options, layer: any FileLayer) throws {
        self.options = options
        let format = FlatBuffersSnapshotFormat(
            compressionLevel: options.compressionLevel, maxSnapshotBytes: options.maxSnapshotBytes)
        super.init(
            engine: try FileStoreEngine(
                root: directory, format: format, layer: layer, maxFileBytes: options.maxSnapshotBytes))
    }
}
