import FBSchema
import Foundation
import Synchronization
import Glibc

/// Snapshots as FlatBuffers (Schemas/workflow.fbs) in a zstd frame with its content checksum
/// (`snapshot.fb.zst`); summaries as raw FlatBuffers (`summary.fb`). See docs/format.md.
///
/// With compression off the frame is written at zstd's fastest level, which barely compresses
/// but keeps the checksum: a snapshot is never read back without an integrity check.
struct FlatBuffersSnapshotFormat: SnapshotFormat {
    /// The zstd level, or nil for (almost) no compression.
    var compressionLevel: Int32?
    /// The largest decompressed snapshot accepted (a larger frame is a decompression bomb).
    var maxSnapshotBytes: Int

    var snapshotFileNames: [String] { ["snapshot.fb.zst"] }
    var checksNodeNames: Bool { true }
    var summaryFileName: String { "summary.fb" }

    /// Buffers and zstd contexts reused from one save or load to the next.
    let scratch = ScratchPool()

    func encode(_ state: WorkflowState) throws -> (bytes: [UInt8], fileName: String) {
        let bytes = try withRawSnapshot(state) { raw in
            try Zstd.compress(raw, level: compressionLevel ?? Zstd.fastestLevel, threads: Self.cores, scratch: scratch)
        }
        return (bytes, "snapshot.fb.zst")
    }

    /// How many threads encode or decode a snapshot of `count` nodes: every core (up to 4) for
    /// large ones, where the work outweighs waking them.
    static func threads(forNodes count: Int) -> Int {
        count >= 16_384 ? cores : 1
    }

    /// The cores (up to 4) that large snapshots are encoded and decoded on.
    static var cores: Int { max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)) }

    /// Runs `body` with the uncompressed Snapshot FlatBuffer of `state`, which lives in scratch
    /// memory until `body` returns.
    ///
    /// Every string and blob goes into one arena, laid out node range after node range so that
    /// each range is copied on its own thread; the C encoder then builds the FlatBuffer from the
    /// arena, also in ranges.
    func withRawSnapshot<Result>(_ state: WorkflowState, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let count = state.nodes.count
        let threads = Self.threads(forNodes: count)
        let ranges = (0..<threads).map { (count * $0 / threads)..<(count * ($0 + 1) / threads) }
        let rangeBytes = Locked([Int](repeating: 0, count: threads))
        DispatchQueue.concurrentPerform(iterations: threads) { chunk in
            var bytes = 0
            for index in ranges[chunk] {
                let node = state.nodes[index]
                bytes += node.name.utf8.count + (node.lastError?.utf8.count ?? 0) + (node.storedOutput.count ?? 0)
            }
            rangeBytes.withLock { $0[chunk] = bytes }
        }
        let starts = rangeBytes.withLock { $0 }.reduce(into: [0]) { $0.append($0.last! + $1) }
        var tailBytes = state.id.utf8.count + state.tenant.utf8.count + state.fingerprint.utf8.count + state.input.count
        tailBytes += (state.definition?.count ?? 0) + (state.reason?.utf8.count ?? 0)
        for (key, value) in state.data { tailBytes += key.utf8.count + value.count }
        let arenaBytes = starts.last! + tailBytes
        let entryStride = MemoryLayout<fbs_node_in>.stride
        // An index that does not fit is out of range: the encoder refuses it.
        let edges = (state.shape?.edges ?? []).map {
            fbs_edge(node: UInt32(exactly: $0.node) ?? .max, dependency: UInt32(exactly: $0.dependency) ?? .max)
        }
        let scratchBytes = arenaBytes + 96 * count + 128 * state.data.count + 8 * edges.count + 4096
        return try scratch.withBuffer(arenaBytes) { arenaMemory in
            try scratch.withBuffer(count * entryStride) { entryMemory in
                let entries = entryMemory.bindMemory(to: fbs_node_in.self)
                let shared = SharedEncoding(arena: arenaMemory, entries: entries)
                DispatchQueue.concurrentPerform(iterations: threads) { chunk in
                    var arena = RawArena(shared.arena, at: starts[chunk])
                    for index in ranges[chunk] {
                        let node = state.nodes[index]
                        var entry = fbs_node_in()
                        entry.name = arena.add(node.name)
                        entry.error = arena.add(node.lastError)
                        entry.output = node.storedOutput.withBytes { arena.add($0) }
                        entry.attempts = node.attempts
                        entry.status = fbs_node_status(UInt32(node.status.rawValue))
                        if let started = node.startedAt {
                            entry.has_started_at = 1
                            entry.started_at_us = started.microsecondsSince1970
                        }
                        if let ended = node.endedAt {
                            entry.has_ended_at = 1
                            entry.ended_at_us = ended.microsecondsSince1970
                        }
                        (shared.entries.baseAddress! + index).initialize(to: entry)
                    }
                }
                var arena = RawArena(arenaMemory, at: starts.last!)
                var data = [fbs_kv_in]()
                data.reserveCapacity(state.data.count)
                for (key, value) in state.data {
                    data.append(fbs_kv_in(key: arena.add(key), value: arena.add(value)))
                }
                var input = fbs_snapshot_in()
                input.id = arena.add(state.id)
                input.tenant = arena.add(state.tenant)
                input.fingerprint = arena.add(state.fingerprint)
                input.input = arena.add(state.input)
                input.definition = arena.add(state.definition)
                input.reason = arena.add(state.reason)
                input.recoveries = state.recoveries
                input.created_at_us = state.createdAt.microsecondsSince1970
                input.updated_at_us = state.updatedAt.microsecondsSince1970
                input.last_sequence = state.lastSequence
                input.status = fbs_workflow_status(UInt32(state.status.rawValue))
                input.threads = UInt32(threads)
                input.arena = UnsafeRawPointer(arenaMemory.baseAddress)
                input.arena_len = arenaBytes
                input.nodes = UnsafePointer(entries.baseAddress)
                input.node_count = count
                // Budgets only while some node has one in use (absent for most stored states).
                let budgets: [fbs_node_budget] =
                    state.nodes.contains(where: \.hasBudgetInUse)
                    ? state.nodes.map {
                        fbs_node_budget(
                            counted: $0.countedAttempts, crashed: $0.crashedAttempts, open: $0.attemptOpen ? 1 : 0,
                            reserved: (0, 0, 0))
                    } : []
                return try scratch.withBuffer(scratchBytes + 12 * budgets.count) { builderMemory in
                    input.scratch = builderMemory.baseAddress
                    input.scratch_len = builderMemory.count
                    var output = fbs_buffer()
                    var error = fbs_error()
                    let code = data.withUnsafeBufferPointer { data in
                        budgets.withUnsafeBufferPointer { budgets in
                            edges.withUnsafeBufferPointer { edges in
                                input.data = data.baseAddress
                                input.data_count = data.count
                                input.budgets = budgets.baseAddress
                                input.budget_count = budgets.count
                                input.has_edges = state.shape == nil ? 0 : 1
                                input.edges = edges.baseAddress
                                input.edge_count = edges.count
                                return fbs_snapshot_encode(&input, &output, &error)
                            }
                        }
                    }
                    guard code == FBS_OK else {
                        throw FlowError(
                            .invalidArgument, "workflow \(state.tenant)/\(state.id): cannot encode snapshot: \(error.text)")
                    }
                    return try FBSBuffer(output).withBytes(body)
                }
            }
        }
    }

    /// Memory handed to the parallel ranges, each of which writes its own part only.
    private struct SharedEncoding: @unchecked Sendable {
        let arena: UnsafeMutableRawBufferPointer
        let entries: UnsafeMutableBufferPointer<fbs_node_in>
    }

    func decode(_ buffer: AlignedBuffer, path: String) throws -> WorkflowState {
        guard fbs_identify(buffer.bytes.baseAddress, buffer.count) == FBS_FILE_ZSTD else {
            throw FlowError(
                .corruptData, buffer.count == 0 ? "\(path): empty file" : "\(path): not a zstd frame")
        }
        return try Zstd.decompress(
            buffer.bytes, limit: maxSnapshotBytes, path: path, threads: Self.cores, scratch: scratch
        ) { raw in
            guard fbs_identify(raw.bytes.baseAddress, raw.count) == FBS_FILE_SNAPSHOT else {
                throw FlowError(.corruptData, "\(path): the zstd frame does not hold a snapshot (no FLWS identifier)")
            }
            return try decodeVerified(raw, path: path)
        }
    }

    /// The state in an uncompressed Snapshot FlatBuffer, after the full verification.
    func decodeVerified(_ raw: AlignedBuffer, path: String) throws -> WorkflowState {
        let bytes = raw.bytes
        var error = fbs_error()
        // The root here; each node range is verified by the thread that decodes it.
        let code = fbs_snapshot_verify_root(bytes.baseAddress, bytes.count, &error)
        guard code == FBS_OK else { throw FBSErrors.flowError(error, path: path) }
        var header = fbs_snapshot_view()
        _ = fbs_snapshot_read_header(bytes.baseAddress, &header)
        var nodes = try Self.decodeNodes(bytes, count: header.node_count, path: path)
        if header.budget_count == nodes.count, !nodes.isEmpty {
            let budgets = [fbs_node_budget](unsafeUninitializedCapacity: nodes.count) { budgets, count in
                _ = fbs_snapshot_read_budgets(bytes.baseAddress, 0, nodes.count, budgets.baseAddress)
                count = nodes.count
            }
            for (index, budget) in budgets.enumerated() {
                nodes[index].countedAttempts = budget.counted
                nodes[index].crashedAttempts = budget.crashed
                nodes[index].attemptOpen = budget.open != 0
            }
        }
        let pairs = [fbs_kv_view](unsafeUninitializedCapacity: header.data_count) { pairs, count in
            _ = fbs_snapshot_read_data(bytes.baseAddress, 0, header.data_count, pairs.baseAddress)
            count = header.data_count
        }
        var data: [String: Data] = [:]
        for pair in pairs {
            if let key = pair.key.string { data[key] = pair.value.bytes ?? Data() }
        }
        var state = WorkflowState(
            id: header.id.string ?? "", tenant: header.tenant.string ?? "",
            fingerprint: header.fingerprint.string ?? "", nodeNames: [], input: header.input.bytes ?? Data(),
            definition: header.definition.bytes, createdAt: Date(microsecondsSince1970: header.created_at_us))
        state.formatVersion = header.format_version
        state.status = WorkflowStatus(rawValue: UInt8(header.status.rawValue)) ?? .pending
        state.updatedAt = Date(microsecondsSince1970: header.updated_at_us)
        state.lastSequence = header.last_sequence
        state.nodes = nodes
        state.data = data
        state.reason = header.reason.string
        state.recoveries = header.recoveries
        if header.has_edges != 0 {
            let edges = [fbs_edge](unsafeUninitializedCapacity: header.edge_count) { edges, count in
                _ = fbs_snapshot_read_edges(bytes.baseAddress, 0, header.edge_count, edges.baseAddress)
                count = header.edge_count
            }
            state.shape = DAGShape(edges: edges.map { DAGShape.Edge(node: Int($0.node), dependency: Int($0.dependency)) })
        }
        return state
    }

    /// The nodes of a snapshot whose root is verified, verified and converted (and their names
    /// checked) in parallel ranges when there are many; each range verifies and reads its nodes
    /// in small batches, and the outputs of a batch share one allocation.
    private static func decodeNodes(_ bytes: UnsafeRawBufferPointer, count: Int, path: String) throws -> [NodeState] {
        let chunks = threads(forNodes: count)
        let badName = Atomic<Int>(Int.max)
        let batch = 256
        // Per range: how many nodes it made, and the error that stopped it.
        let outcomes = Locked([(made: Int, error: FlowError?)](repeating: (0, nil), count: chunks))
        let ranges = (0..<chunks).map { (count * $0 / chunks)..<(count * ($0 + 1) / chunks) }
        let nodes = [NodeState](unsafeUninitializedCapacity: count) { buffer, initialized in
            let shared = SharedBuffers(bytes: bytes, nodes: buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let range = ranges[chunk]
                withUnsafeTemporaryAllocation(of: fbs_node_view.self, capacity: batch) { views in
                    for first in stride(from: range.lowerBound, to: range.upperBound, by: batch) {
                        let taken = min(batch, range.upperBound - first)
                        var error = fbs_error()
                        guard fbs_snapshot_verify_nodes(shared.bytes.baseAddress, shared.bytes.count, first, taken, &error) == FBS_OK
                        else {
                            let failure = FBSErrors.flowError(error, path: path)
                            outcomes.withLock { $0[chunk] = (first - range.lowerBound, failure) }
                            return
                        }
                        _ = fbs_snapshot_read_nodes(shared.bytes.baseAddress, first, taken, views.baseAddress)
                        // The batch's outputs share one buffer.
                        var outputBytes = 0
                        for offset in 0..<taken where views[offset].output.data != nil {
                            outputBytes += views[offset].output.length
                        }
                        let outputs = SharedBytes(count: outputBytes)
                        var written = 0
                        for offset in 0..<taken {
                            let view = views[offset]
                            if !Names.isValid(utf8: UnsafeRawBufferPointer(start: view.name.data, count: view.name.length)) {
                                badName.min(first + offset, ordering: .relaxed)
                            }
                            var output = NodeOutputBytes.none
                            if let data = view.output.data {
                                let count = view.output.length
                                (outputs.start + written).copyMemory(from: data, byteCount: count)
                                output = .shared(outputs, offset: written, count: count)
                                written += count
                            }
                            (shared.nodes.baseAddress! + first + offset).initialize(
                                to: NodeState(
                                    name: view.name.string ?? "",
                                    status: NodeStatus(rawValue: UInt8(view.status.rawValue)) ?? .pending,
                                    attempts: view.attempts,
                                    startedAt: view.has_started_at != 0 ? Date(microsecondsSince1970: view.started_at_us) : nil,
                                    endedAt: view.has_ended_at != 0 ? Date(microsecondsSince1970: view.ended_at_us) : nil,
                                    lastError: view.error.string, storedOutput: output))
                        }
                    }
                    outcomes.withLock { $0[chunk].made = range.count }
                }
            }
            let made = outcomes.withLock { $0 }
            if made.allSatisfy({ $0.error == nil }) {
                initialized = count
            } else {
                // Hand back nothing: undo what the ranges made.
                for (chunk, outcome) in made.enumerated() {
                    (buffer.baseAddress! + ranges[chunk].lowerBound).deinitialize(count: outcome.made)
                }
                initialized = 0
            }
        }
        if let failure = outcomes.withLock({ $0.lazy.compactMap(\.error).first }) { throw failure }
        let bad = badName.load(ordering: .relaxed)
        if bad != Int.max {
            throw FlowError(.corruptData, "\(path): node \(bad) name \(Names.problem(with: nodes[bad].name) ?? "is invalid")")
        }
        return nodes
    }

    /// Buffers handed to the parallel chunks, each of which touches its own range only.
    private struct SharedBuffers: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        let nodes: UnsafeMutableBufferPointer<NodeState>
    }

    func encodeSummary(_ summary: WorkflowSummary) throws -> [UInt8] {
        var arena = Arena(capacity: 256)
        var input = fbs_summary_in()
        input.id = arena.add(summary.id)
        input.tenant = arena.add(summary.tenant)
        input.fingerprint = arena.add(summary.fingerprint)
        input.created_at_us = summary.createdAt.microsecondsSince1970
        input.updated_at_us = summary.updatedAt.microsecondsSince1970
        input.last_sequence = summary.lastSequence
        input.snapshot_bytes = UInt64(summary.storedBytes)
        input.status = fbs_workflow_status(UInt32(summary.status.rawValue))
        input.node_count = UInt32(summary.nodeCount)
        input.pending = UInt32(summary.nodeCounts[.pending] ?? 0)
        input.running = UInt32(summary.nodeCounts[.running] ?? 0)
        input.completed = UInt32(summary.nodeCounts[.completed] ?? 0)
        input.failed = UInt32(summary.nodeCounts[.failed] ?? 0)
        input.skipped = UInt32(summary.nodeCounts[.skipped] ?? 0)
        input.cancelled = UInt32(summary.nodeCounts[.cancelled] ?? 0)
        input.waiting = UInt32(summary.nodeCounts[.waiting] ?? 0)
        input.bypassed = UInt32(summary.nodeCounts[.bypassed] ?? 0)
        input.interrupted = UInt32(summary.nodeCounts[.interrupted] ?? 0)
        input.compensated = UInt32(summary.nodeCounts[.compensated] ?? 0)
        input.compensation_failed = UInt32(summary.nodeCounts[.compensationFailed] ?? 0)
        input.reason = arena.add(summary.reason)
        var output = fbs_buffer()
        var error = fbs_error()
        let code = arena.bytes.withUnsafeBytes { arenaBytes in
            input.arena = arenaBytes.baseAddress.map { UnsafeRawPointer($0) }
            input.arena_len = arenaBytes.count
            return fbs_summary_encode(&input, &output, &error)
        }
        guard code == FBS_OK else {
            throw FlowError(.invalidArgument, "cannot encode summary of \(summary.tenant)/\(summary.id): \(error.text)")
        }
        return FBSBuffer(output).array
    }

    func decodeSummary(_ buffer: AlignedBuffer, path: String) throws -> WorkflowSummary {
        var error = fbs_error()
        guard fbs_summary_verify(buffer.bytes.baseAddress, buffer.count, &error) == FBS_OK else {
            throw FBSErrors.flowError(error, path: path)
        }
        var view = fbs_summary_view()
        _ = fbs_summary_read(buffer.bytes.baseAddress, &view)
        var summary = WorkflowSummary(
            WorkflowState(
                id: view.id.string ?? "", tenant: view.tenant.string ?? "", fingerprint: view.fingerprint.string ?? "",
                nodeNames: [], createdAt: Date(microsecondsSince1970: view.created_at_us)),
            storedBytes: Int(exactly: view.snapshot_bytes) ?? Int.max)
        summary.status = WorkflowStatus(rawValue: UInt8(view.status.rawValue)) ?? .pending
        summary.updatedAt = Date(microsecondsSince1970: view.updated_at_us)
        guard view.last_sequence < UInt64(Int64.max) else {
            throw FlowError(.corruptData, "\(path): last sequence number \(view.last_sequence) is out of range")
        }
        summary.lastSequence = view.last_sequence
        summary.nodeCount = Int(view.node_count)
        let counts: [(NodeStatus, UInt32)] = [
            (.pending, view.pending), (.running, view.running), (.completed, view.completed),
            (.failed, view.failed), (.skipped, view.skipped), (.cancelled, view.cancelled),
            (.waiting, view.waiting), (.bypassed, view.bypassed), (.interrupted, view.interrupted),
            (.compensated, view.compensated), (.compensationFailed, view.compensation_failed),
        ]
        summary.nodeCounts = Dictionary(uniqueKeysWithValues: counts.filter { $0.1 > 0 }.map { ($0.0, Int($0.1)) })
        summary.reason = view.reason.string
        return summary
    }
}
