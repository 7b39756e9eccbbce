import FBSchema
import FlowOrchestrator
import Foundation

/// One way of turning a whole ``WorkflowState`` into bytes and back: the serialization
/// strategies the benchmarks compare. Each runs on one thread, so formats are compared, not
/// parallelism (the FlatBuffers store itself splits large snapshots across cores).
public protocol StateCodec: Sendable {
    /// The name shown in tables.
    var name: String { get }
    /// The state as bytes.
    func encode(_ state: WorkflowState) throws -> [UInt8]
    /// The state in `bytes`, which start at an 8-byte aligned address.
    func decode(_ bytes: UnsafeRawBufferPointer) throws -> WorkflowState
}

/// Foundation's `JSONEncoder` on the state's `Codable` conformance (what `JSONFileStore` writes).
public struct JSONStateCodec: StateCodec {
    public init() {}
    public var name: String { "JSON" }

    public func encode(_ state: WorkflowState) throws -> [UInt8] {
        Array(try JSONEncoder().encode(state))
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> WorkflowState {
        try JSONDecoder().decode(WorkflowState.self, from: Data(bytes))
    }
}

/// Foundation's `PropertyListEncoder` writing binary property lists, on the same `Codable`
/// conformance.
public struct PropertyListStateCodec: StateCodec {
    public init() {}
    public var name: String { "binary plist" }

    public func encode(_ state: WorkflowState) throws -> [UInt8] {
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        return Array(try encoder.encode(state))
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> WorkflowState {
        try PropertyListDecoder().decode(WorkflowState.self, from: Data(bytes))
    }
}

/// The snapshot FlatBuffer the `FlatBuffersStore` writes (Schemas/workflow.fbs), built and read
/// through the `FBSchema` C API; decoding runs the full Verifier first, as loading does.
public struct FlatBuffersStateCodec: StateCodec {
    public init() {}
    public var name: String { "FlatBuffers" }

    public func encode(_ state: WorkflowState) throws -> [UInt8] {
        var arena = ByteArena(capacity: state.nodes.count * 40 + state.input.count + 256)
        var nodes = [fbs_node_in]()
        nodes.reserveCapacity(state.nodes.count)
        for node in state.nodes {
            var entry = fbs_node_in()
            entry.name = arena.add(node.name)
            entry.error = arena.add(node.lastError)
            entry.output = arena.add(node.output)
            entry.attempts = node.attempts
            entry.status = fbs_node_status(UInt32(node.status.rawValue))
            if let started = node.startedAt {
                entry.has_started_at = 1
                entry.started_at_us = started.benchMicroseconds
            }
            if let ended = node.endedAt {
                entry.has_ended_at = 1
                entry.ended_at_us = ended.benchMicroseconds
            }
            nodes.append(entry)
        }
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
        input.created_at_us = state.createdAt.benchMicroseconds
        input.updated_at_us = state.updatedAt.benchMicroseconds
        input.last_sequence = state.lastSequence
        input.status = fbs_workflow_status(UInt32(state.status.rawValue))
        var output = fbs_buffer()
        var error = fbs_error()
        let code = arena.bytes.withUnsafeBytes { arenaBytes in
            nodes.withUnsafeBufferPointer { nodes in
                data.withUnsafeBufferPointer { data in
                    input.arena = UnsafeRawPointer(arenaBytes.baseAddress)
                    input.arena_len = arenaBytes.count
                    input.nodes = nodes.baseAddress
                    input.node_count = nodes.count
                    input.data = data.baseAddress
                    input.data_count = data.count
                    return fbs_snapshot_encode(&input, &output, &error)
                }
            }
        }
        defer { fbs_buffer_free(&output) }
        guard code == FBS_OK else { throw FlowError(.invalidArgument, "FlatBuffers encode failed: \(error.benchText)") }
        return Array(UnsafeRawBufferPointer(start: output.data, count: output.size))
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> WorkflowState {
        var error = fbs_error()
        guard fbs_snapshot_verify(bytes.baseAddress, bytes.count, &error) == FBS_OK else {
            throw FlowError(.corruptData, "FlatBuffers verify failed: \(error.benchText)")
        }
        var header = fbs_snapshot_view()
        _ = fbs_snapshot_read_header(bytes.baseAddress, &header)
        let views = [fbs_node_view](unsafeUninitializedCapacity: header.node_count) { views, count in
            _ = fbs_snapshot_read_nodes(bytes.baseAddress, 0, header.node_count, views.baseAddress)
            count = header.node_count
        }
        let pairs = [fbs_kv_view](unsafeUninitializedCapacity: header.data_count) { pairs, count in
            _ = fbs_snapshot_read_data(bytes.baseAddress, 0, header.data_count, pairs.baseAddress)
            count = header.data_count
        }
        var state = WorkflowState(
            id: header.id.benchString ?? "", tenant: header.tenant.benchString ?? "",
            fingerprint: header.fingerprint.benchString ?? "", nodeNames: [], input: header.input.benchData ?? Data(),
            definition: header.definition.benchData, createdAt: Date(benchMicroseconds: header.created_at_us))
        state.formatVersion = header.format_version
        state.status = WorkflowStatus(rawValue: UInt8(header.status.rawValue)) ?? .pending
        state.updatedAt = Date(benchMicroseconds: header.updated_at_us)
        state.lastSequence = header.last_sequence
        state.nodes = views.map { view in
            NodeState(
                name: view.name.benchString ?? "",
                status: NodeStatus(rawValue: UInt8(view.status.rawValue)) ?? .pending,
                attempts: view.attempts,
                startedAt: view.has_started_at != 0 ? Date(benchMicroseconds: view.started_at_us) : nil,
                endedAt: view.has_ended_at != 0 ? Date(benchMicroseconds: view.ended_at_us) : nil,
                lastError: view.error.benchString, output: view.output.benchData)
        }
        for pair in pairs {
            if let key = pair.key.benchString { state.data[key] = pair.value.benchData ?? Data() }
        }
        return state
    }
}

/// Strings and blobs in one byte array addressed by `fbs_slice`s, the way the C API wants them.
struct ByteArena {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func add(_ string: String?) -> fbs_slice {
        guard var string else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        let offset = bytes.count
        string.withUTF8 { bytes.append(contentsOf: $0) }
        return fbs_slice(offset: UInt64(offset), length: UInt64(bytes.count - offset))
    }

    mutating func add(_ data: Data?) -> fbs_slice {
        guard let data else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        let offset = bytes.count
        data.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return fbs_slice(offset: UInt64(offset), length: UInt64(data.count))
    }
}

extension fbs_view {
    var benchString: String? {
        guard let start = data else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: length), as: UTF8.self)
    }

    var benchData: Data? {
        guard let start = data else { return nil }
        return Data(bytes: start, count: length)
    }
}

extension fbs_error {
    var benchText: String {
        withUnsafeBytes(of: message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension Date {
    /// Microseconds since 1970, as every stored time is kept.
    var benchMicroseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }

    init(benchMicroseconds micros: Int64) {
        self.init(timeIntervalSince1970: Double(micros) / 1_000_000)
    }
}
