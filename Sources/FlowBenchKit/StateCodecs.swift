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

/// The snapshot FlatBuffer the `FlatBuffersStore` writes (Schemas/workflow.fbs), through the
/// library's own encoder and decoder (`SnapshotEncoding`): decoding runs the full Verifier first,
/// as loading does. Unlike the other codecs it splits states of 16k nodes or more across the
/// cores, as the store does: this is what an embedding program gets.
public struct FlatBuffersStateCodec: StateCodec {
    public init() {}
    public var name: String { "FlatBuffers" }

    public func encode(_ state: WorkflowState) throws -> [UInt8] {
        try SnapshotEncoding.flatBuffer(state)
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> WorkflowState {
        try SnapshotEncoding.state(fromFlatBuffer: Array(bytes))
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

extension fbs_error {
    var benchText: String {
        withUnsafeBytes(of: message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
