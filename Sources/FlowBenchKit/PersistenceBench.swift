import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Persistence strategies (when state is written) crossed with durability (fsync or buffered),
/// through the real `FlatBuffersStore`, on no-op nodes so that only the writing shows.
public enum PersistenceBench {
    /// The DAG shapes measured.
    public enum Shape: String, Sendable, CaseIterable {
        /// One level of independent nodes.
        case wide
        /// A chain: one node per level.
        case chain

        /// The DAG of this shape with `nodes` nodes.
        public func dag(_ nodes: Int) -> DAG {
            switch self {
            case .wide: Workloads.wide(nodes)
            case .chain: Workloads.chain(nodes)
            }
        }
    }

    /// One run's figures.
    public struct Result: Sendable {
        public var shape: Shape
        public var nodes: Int
        public var persistence: PersistenceStrategy
        public var durability: Durability
        /// Wall time of the whole run, including the first save and the last write.
        public var seconds: Double
        /// Snapshots or journal batches written.
        public var storeWrites: Int
        /// "journal" (the FlatBuffers store) or "sqlite".
        public var store = "journal"
        /// Node completions per second.
        public var nodesPerSecond: Double { Double(nodes) / max(seconds, 1e-9) }
        /// "node/fsync", "level/buffered", ...
        public var strategy: String { "\(persistence.rawValue)/\(durability.rawValue)" }
    }

    /// Runs a new `shape` workflow of `nodes` nodes in a FlatBuffers store at `directory`
    /// (dependency-driven scheduling; the library's default concurrency bound, 64, unless told).
    public static func run(
        _ shape: Shape, nodes: Int, persistence: PersistenceStrategy, durability: Durability, directory: String,
        maxConcurrency: Int = 64, sqlite: Bool = false
    ) async throws -> Result {
        try await run(
            shape.dag(nodes), shape: shape, persistence: persistence, durability: durability, directory: directory,
            maxConcurrency: maxConcurrency, sqlite: sqlite)
    }

    /// Runs `dag`, a DAG of `shape`, as a new workflow in a FlatBuffers store at `directory`.
    /// The time is that of `execute()`: the first save, the run and the last write.
    /// With `sqlite`, the store is a ``SQLiteStore`` (a row per node, each change an UPDATE).
    public static func run(
        _ dag: DAG, shape: Shape, persistence: PersistenceStrategy, durability: Durability, directory: String,
        maxConcurrency: Int = 64, sqlite: Bool = false
    ) async throws -> Result {
        // Earlier writes still in the page cache would make the first syncs pay for them.
        sync()
        let store: any WorkflowStore = sqlite ? try SQLiteStore(directory: directory) : try FlatBuffersStore(directory: directory)
        let options = ExecutionOptions(
            maxConcurrency: maxConcurrency, scheduling: .dependencies, persistence: persistence, durability: durability)
        let measured = try await ExecutorBench.run(dag, store: store, id: "persist", options: options)
        return Result(
            shape: shape, nodes: dag.count, persistence: persistence, durability: durability,
            seconds: measured.duration.seconds, storeWrites: measured.storeWrites, store: sqlite ? "sqlite" : "journal")
    }
}
