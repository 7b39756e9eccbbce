import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Snapshot save and load through the real stores, as the targets define them: save = encode,
/// compress, write, fsync, rename (and the summary); load = read, decompress, verify, decode.
public enum SnapshotBench {
    /// A finished workflow of `nodes` nodes with small outputs (see ``Workloads/finishedState(nodes:outputBytes:id:)``).
    public static func state(nodes: Int, outputBytes: Int = 16, id: String = "bench") -> WorkflowState {
        Workloads.finishedState(nodes: nodes, outputBytes: outputBytes, id: id)
    }

    /// The median times of saving and loading one state.
    public struct Result: Sendable {
        public var store: String
        public var saveSeconds: Double
        public var loadSeconds: Double
        /// Median CPU seconds of a save, summed over the process's threads.
        public var saveCPUSeconds: Double
        /// Median CPU seconds of a load, summed over the process's threads.
        public var loadCPUSeconds: Double
        public var bytes: Int
    }

    /// Saves and loads `state` `iterations` times in `store` (fsync durability) and keeps the
    /// medians; checks that what is loaded equals what was saved.
    public static func measure(
        _ label: String, store: some WorkflowStore, state: WorkflowState, iterations: Int = 5
    ) async throws -> Result {
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        sync()  // so that earlier writes still in the page cache do not slow the first fsync
        var saves: [Double] = []
        var loads: [Double] = []
        var saveCPU: [Double] = []
        var loadCPU: [Double] = []
        let clock = ContinuousClock()
        try await store.withWriter(key) { writer in
            for _ in 0..<max(1, iterations) {
                var start = clock.now
                var cpu = Timing.processCPUSeconds()
                try await writer.save(state, durability: .fsync)
                saves.append((clock.now - start).seconds)
                saveCPU.append(Timing.processCPUSeconds() - cpu)
                start = clock.now
                cpu = Timing.processCPUSeconds()
                let loaded = try await store.load(key)
                loads.append((clock.now - start).seconds)
                loadCPU.append(Timing.processCPUSeconds() - cpu)
                guard loaded.nodes.count == state.nodes.count, loaded.lastSequence == state.lastSequence else {
                    throw FlowError(.corruptData, "\(label): loaded state differs from the saved one")
                }
            }
        }
        let summary = try await store.list(WorkflowQuery(tenant: state.tenant, idPrefix: state.id)).items.first
        return Result(
            store: label, saveSeconds: Timing.median(saves), loadSeconds: Timing.median(loads),
            saveCPUSeconds: Timing.median(saveCPU), loadCPUSeconds: Timing.median(loadCPU), bytes: summary?.storedBytes ?? 0)
    }
}
