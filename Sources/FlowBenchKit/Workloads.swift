import FlowOrchestrator
import Foundation

/// The DAG shapes every benchmark uses, so `flowctl bench` and the package-benchmark suite
/// measure the same thing.
public enum Workloads {
    /// `count` independent no-op nodes: one level.
    public static func wide(_ count: Int) -> DAG {
        var dag = DAG()
        for index in 0..<count {
            try! dag.addNode("n\(index)") { _ in .empty }  // names are valid and unique by construction
        }
        return dag
    }

    /// `levels` levels of `width` no-op nodes; each node needs the node at the same position in
    /// the level before (so a level cannot start early under dependency-driven scheduling only
    /// by luck: every node has exactly one dependency).
    public static func layered(levels: Int, width: Int) -> DAG {
        var dag = DAG()
        for level in 0..<levels {
            for position in 0..<width {
                let dependencies = level == 0 ? [] : ["l\(level - 1)-\(position)"]
                try! dag.addNode("l\(level)-\(position)", dependsOn: dependencies) { _ in .empty }
            }
        }
        return dag
    }

    /// A chain of `length` no-op nodes, each needing the one before.
    public static func chain(_ length: Int) -> DAG {
        layered(levels: length, width: 1)
    }
}

/// One measured run.
public struct RunMeasurement: Sendable {
    /// Nodes in the DAG.
    public var nodes: Int
    /// Wall time of `execute()`.
    public var duration: Duration
    /// Writes to the store during the run (snapshots or journal batches).
    public var storeWrites: Int = 0
    /// Nodes per second.
    public var nodesPerSecond: Double { Double(nodes) / max(duration.seconds, 1e-9) }
}

extension Workloads {
    /// A finished workflow of `nodes` nodes, each with times, one attempt and an output of
    /// `outputBytes` bytes: what a large batch job leaves behind. Outputs up to 64 bytes are a
    /// fixed pattern led by the node's index; longer ones are log-like text (words and numbers
    /// from a seeded generator, different for every node), which compresses about as well as
    /// real command output does.
    public static func finishedState(nodes: Int, outputBytes: Int = 16, id: String = "bench") -> WorkflowState {
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        var state = WorkflowState(
            id: id, tenant: "bench", fingerprint: "fnv1a64:0000000000000000",
            nodeNames: (0..<nodes).map { "node-\($0)" }, input: Data("{}".utf8), createdAt: created)
        state.status = .completed
        state.lastSequence = UInt64(nodes * 2 + 2)
        let pattern = Data((0..<min(outputBytes, 64)).map { UInt8(ascii: "a") &+ UInt8($0 % 26) })
        for index in state.nodes.indices {
            state.nodes[index].status = .completed
            state.nodes[index].attempts = 1
            state.nodes[index].startedAt = Date(timeIntervalSince1970: 1_800_000_000 + Double(index) / 1000)
            state.nodes[index].endedAt = Date(timeIntervalSince1970: 1_800_000_000.5 + Double(index) / 1000)
            if outputBytes > 64 {
                state.nodes[index].output = logText(bytes: outputBytes, seed: UInt64(index))
            } else {
                var output = pattern
                let lead = withUnsafeBytes(of: UInt32(index)) { Data($0) }.prefix(min(4, outputBytes))
                output.replaceSubrange(0..<lead.count, with: lead)
                state.nodes[index].output = output
            }
        }
        state.updatedAt = created.addingTimeInterval(120)
        return state
    }

    /// `bytes` bytes of log-like lines drawn from a generator seeded with `seed`.
    public static func logText(bytes: Int, seed: UInt64) -> Data {
        let words = [
            "INFO", "WARN", "DEBUG", "request", "served", "in", "ms", "user", "id", "rows", "written", "to",
            "table", "orders", "shard", "retry", "cache", "hit", "miss", "GET", "/api/v1/items", "200", "404",
            "latency", "bytes", "upload", "done", "checksum", "ok", "batch", "commit", "offset",
        ].map { Array($0.utf8) }
        var random = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            return random
        }
        var text = [UInt8]()
        text.reserveCapacity(bytes + 32)
        while text.count < bytes {
            let roll = next()
            switch roll % 8 {
            case 0: text.append(contentsOf: String(roll >> 40).utf8)
            case 1: text.append(10)  // newline
            default: text.append(contentsOf: words[Int(roll >> 20) % words.count])
            }
            text.append(32)
        }
        return Data(text.prefix(bytes))
    }
}

/// Executor measurements.
public enum ExecutorBench {
    /// Runs `dag` once as a new workflow in `store` and times it.
    public static func run(
        _ dag: DAG, store: any WorkflowStore = InMemoryStore(), id: String = "bench",
        options: ExecutionOptions = ExecutionOptions(persistence: .end)
    ) async throws -> RunMeasurement {
        let workflow = Workflow(key: try WorkflowKey(id: id), dag: dag, store: store, options: options)
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await workflow.execute()
        let duration = clock.now - started
        guard result.status == .completed else {
            throw FlowError(.invalidArgument, "benchmark workflow ended \(result.status)")
        }
        return RunMeasurement(nodes: dag.count, duration: duration, storeWrites: result.metrics.storeWrites)
    }
}
