import Foundation

/// What a node's action returns: bytes that are stored and readable by its dependents.
public struct NodeOutput: Sendable, Equatable {
    /// The stored bytes.
    public var bytes: Data

    /// An output of raw bytes.
    public init(_ bytes: Data) { self.bytes = bytes }

    /// An empty output.
    public static let empty = NodeOutput(Data())

    /// An output of raw bytes.
    public static func bytes(_ bytes: Data) -> NodeOutput { NodeOutput(bytes) }

    /// An output holding `text` as UTF-8.
    public static func text(_ text: String) -> NodeOutput { NodeOutput(Data(text.utf8)) }

    /// An output holding `value` encoded as JSON; read it back with ``NodeContext/output(of:as:)``.
    public static func json<T: Encodable>(_ value: T) throws -> NodeOutput {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return NodeOutput(try encoder.encode(value))
    }
}

/// Size limits on what a workflow stores. A payload over its limit is an error, never truncated.
public struct PayloadLimits: Sendable, Equatable {
    /// The largest workflow input, in bytes.
    public var maxInputBytes: Int
    /// The largest node output, in bytes.
    public var maxOutputBytes: Int
    /// The largest value in the workflow's key-value data, in bytes.
    public var maxDataValueBytes: Int

    /// Limits with every field given; the defaults suit most workflows.
    public init(
        maxInputBytes: Int = 64 << 20, maxOutputBytes: Int = 64 << 20, maxDataValueBytes: Int = 16 << 20
    ) {
        self.maxInputBytes = maxInputBytes
        self.maxOutputBytes = maxOutputBytes
        self.maxDataValueBytes = maxDataValueBytes
    }

    /// Throws `payloadTooLarge` naming `what` when `size` is over `limit`.
    static func check(_ size: Int, limit: Int, what: @autoclosure () -> String) throws(FlowError) {
        if size > limit {
            throw FlowError(.payloadTooLarge, "\(what()) is \(size) bytes, over the limit of \(limit) bytes")
        }
    }
}
