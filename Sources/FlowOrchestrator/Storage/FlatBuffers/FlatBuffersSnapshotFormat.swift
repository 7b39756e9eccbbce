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

    func encode(_ state: WorkflowState) throws -> (bytes: [UInt8], fileName: String) {
        let raw = try encodeRaw(state)
        defer { raw.free() }
        return (try Zstd.compress(raw.bytes, level: compressionLevel ?? Zstd.fastestLevel), "snapshot.fb.zst")
    }

    /// The uncompressed Snapshot FlatBuffer of `state`.
    func encodeRaw(_ state: WorkflowState) throws -> FBSBuffer {
        var (arena, nodes) = Self.encodeNodes(state)
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
        input.created_at_us = state.createdAt.microsecondsSince1970
        input.updated_at_us = state.updatedAt.microsecondsSince1970
        input.last_sequence = state.lastSequence
        input.status = fbs_workflow_status(UInt32(state.status.rawValue))
        var output = fbs_buffer()
        var error = fbs_error()
        let code = arena.bytes.withUnsafeBytes { arenaBytes in
            nodes.withUnsafeBufferPointer { nodes in
                data.withUnsafeBufferPointer { data in
                    input.arena = arenaBytes.baseAddress.map { UnsafeRawPointer($0) }
                    input.arena_len = arenaBytes.count
                    input.nodes = nodes.baseAddress
                    input.node_count = nodes.count
                    input.data = data.baseAddress
                    input.data_count = data.count
                    return fbs_snapshot_encode(&input, &output, &error)
                }
            }
        }
        guard code == FBS_OK else {
            throw FlowError(
                .invalidArgument, "workflow \(state.tenant)/\(state.id): cannot encode snapshot: \(error.text)")
        }
        return FBSBuffer(output)
    }

    /// The nodes' strings and blobs in one arena, and their entries; built in parallel chunks
    /// (each with its own arena, joined afterwards) when there are many.
    private static func encodeNodes(_ state: WorkflowState) -> (Arena, [fbs_node_in]) {
        let count = state.nodes.count
        let chunks = count >= 16_384 ? max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)) : 1
        let parts = Locked([(bytes: [UInt8], entries: [fbs_node_in])](repeating: ([], []), count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let range = (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
            var arena = Arena(capacity: range.count * 32)
            var entries = [fbs_node_in]()
            entries.reserveCapacity(range.count)
            for index in range {
                let node = state.nodes[index]
                var entry = fbs_node_in()
                entry.name = arena.add(node.name)
                entry.error = arena.add(node.lastError)
                entry.output = arena.add(node.output)
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
                entries.append(entry)
            }
            let built = (arena.bytes, entries)
            parts.withLock { $0[chunk] = built }
        }
        let built = parts.withLock { $0 }
        if chunks == 1 { return (Arena(built[0].bytes), built[0].entries) }
        var arena = Arena(capacity: built.reduce(state.input.count + 256) { $0 + $1.bytes.count })
        var entries = [fbs_node_in]()
        entries.reserveCapacity(count)
        for part in built {
            let base = UInt64(arena.append(raw: part.bytes))
            for var entry in part.entries {
                entry.name.offset += base
                entry.error.offset += base
                entry.output.offset += base
                entries.append(entry)
            }
        }
        return (arena, entries)
    }

    func decode(_ buffer: AlignedBuffer, path: String) throws -> WorkflowState {
        try decodeVerified(try rawSnapshot(buffer, path: path), path: path)
    }

    /// The state in an uncompressed Snapshot FlatBuffer, after the full verification.
    func decodeVerified(_ raw: AlignedBuffer, path: String) throws -> WorkflowState {
        let bytes = raw.bytes
        var error = fbs_error()
        let code = fbs_snapshot_verify(bytes.baseAddress, bytes.count, &error)
        guard code == FBS_OK else { throw FBSErrors.flowError(error, path: path) }
        var header = fbs_snapshot_view()
        _ = fbs_snapshot_read_header(bytes.baseAddress, &header)
        let nodes = try Self.decodeNodes(bytes, count: header.node_count, path: path)
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
        return state
    }

    /// The nodes of a verified snapshot, converted (and their names checked) in parallel chunks
    /// when there are many.
    private static func decodeNodes(_ bytes: UnsafeRawBufferPointer, count: Int, path: String) throws -> [NodeState] {
        let views = [fbs_node_view](unsafeUninitializedCapacity: count) { views, initialized in
            _ = fbs_snapshot_read_nodes(bytes.baseAddress, 0, count, views.baseAddress)
            initialized = count
        }
        let chunks = count >= 16_384 ? max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)) : 1
        let badName = Atomic<Int>(Int.max)
        let nodes = views.withUnsafeBufferPointer { views in
            [NodeState](unsafeUninitializedCapacity: count) { buffer, initialized in
                let shared = SharedBuffers(views: views, nodes: buffer)
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let range = (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
                    for index in range {
                        let view = shared.views[index]
                        if !Names.isValid(utf8: UnsafeRawBufferPointer(start: view.name.data, count: view.name.length)) {
                            badName.min(index, ordering: .relaxed)
                        }
                        (shared.nodes.baseAddress! + index).initialize(
                            to: NodeState(
                                name: view.name.string ?? "",
                                status: NodeStatus(rawValue: UInt8(view.status.rawValue)) ?? .pending,
                                attempts: view.attempts,
                                startedAt: view.has_started_at != 0 ? Date(microsecondsSince1970: view.started_at_us) : nil,
                                endedAt: view.has_ended_at != 0 ? Date(microsecondsSince1970: view.ended_at_us) : nil,
                                lastError: view.error.string, output: view.output.bytes))
                    }
                }
                initialized = count
            }
        }
        let bad = badName.load(ordering: .relaxed)
        if bad != Int.max {
            throw FlowError(.corruptData, "\(path): node \(bad) name \(Names.problem(with: nodes[bad].name) ?? "is invalid")")
        }
        return nodes
    }

    /// Buffers handed to the parallel chunks, each of which touches its own range only.
    private struct SharedBuffers: @unchecked Sendable {
        let views: UnsafeBufferPointer<fbs_node_view>
        let nodes: UnsafeMutableBufferPointer<NodeState>
    }

    /// The snapshot FlatBuffer inside the zstd frame in `buffer`.
    private func rawSnapshot(_ buffer: AlignedBuffer, path: String) throws -> AlignedBuffer {
        guard fbs_identify(buffer.bytes.baseAddress, buffer.count) == FBS_FILE_ZSTD else {
            throw FlowError(
                .corruptData, buffer.count == 0 ? "\(path): empty file" : "\(path): not a zstd frame")
        }
        let raw = try Zstd.decompress(buffer.bytes, limit: maxSnapshotBytes, path: path)
        guard fbs_identify(raw.bytes.baseAddress, raw.count) == FBS_FILE_SNAPSHOT else {
            throw FlowError(.corruptData, "\(path): the zstd frame does not hold a snapshot (no FLWS identifier)")
        }
        return raw
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
        let buffer = FBSBuffer(output)
        defer { buffer.free() }
        return Array(buffer.bytes)
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
        ]
        summary.nodeCounts = Dictionary(uniqueKeysWithValues: counts.filter { $0.1 > 0 }.map { ($0.0, Int($0.1)) })
        return summary
    }
}
