import FlowOrchestrator
import Foundation

/// Snapshot save and load through the real stores, as the targets define them: save = encode,
/// compress, write, fsync, rename (and the summary); load = read, decompress, verify, decode.
public enum SnapshotBench {
    /// A finished workflow of `nodes` nodes, each with times, one attempt and a small output:
    /// what a large batch job leaves behind.
    public static func state(nodes: Int, outputBytes: Int = 16, id: String = "bench") -> WorkflowState {
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        var state = WorkflowState(
            id: id, tenant: "bench", fingerprint: "fnv1a64:0000000000000000",
            nodeNames: (0..<nodes).map { "node-\($0)" }, input: Data("{}".utf8), createdAt: created)
        state.status = .completed
        state.lastSequence = UInt64(nodes * 2 + 2)
        let payload = Data((0..<outputBytes).map { UInt8(ascii: "a") &+ UInt8($0 % 26) })
        for index in state.nodes.indices {
            state.nodes[index].status = .completed
            state.nodes[index].attempts = 1
            state.nodes[index].startedAt = Date(timeIntervalSince1970: 1_800_000_000 + Double(index) / 1000)
            state.nodes[index].endedAt = Date(timeIntervalSince1970: 1_800_000_000.5 + Double(index) / 1000)
            var output = payload
            output.replaceSubrange(0..<min(4, outputBytes), with: withUnsafeBytes(of: UInt32(index)) { Data($0) }.prefix(min(4, outputBytes)))
            state.nodes[index].output = output
        }
        state.updatedAt = created.addingTimeInterval(120)
        return state
    }

    /// The median times of saving and loading one state.
    public struct Result: Sendable {
        public var store: String
        public var saveSeconds: Double
        public var loadSeconds: Double
        public var bytes: Int
    }

    /// Saves and loads `state` `iterations` times in `store` (fsync durability) and keeps the
    /// medians; checks that what is loaded equals what was saved.
    public static func measure(
        _ label: String, store: some WorkflowStore, state: WorkflowState, iterations: Int = 5
    ) async throws -> Result {
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        var saves: [Double] = []
        var loads: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<max(1, iterations) {
            var start = clock.now
            try await store.save(state, durability: .fsync)
            saves.append((clock.now - start).seconds)
            start = clock.now
            let loaded = try await store.load(key)
            loads.append((clock.now - start).seconds)
            guard loaded.nodes.count == state.nodes.count, loaded.lastSequence == state.lastSequence else {
                throw FlowError(.corruptData, "\(label): loaded state differs from the saved one")
            }
        }
        let summary = try await store.list(WorkflowQuery(tenant: state.tenant, idPrefix: state.id)).items.first
        return Result(
            store: label, saveSeconds: median(saves), loadSeconds: median(loads), bytes: summary?.storedBytes ?? 0)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
