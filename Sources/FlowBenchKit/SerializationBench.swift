import FlowOrchestrator
import Foundation

/// Serialization strategies on the same workflow state: each codec raw and inside a zstd frame
/// at several levels. Pure CPU and memory: nothing touches the disk.
public enum SerializationBench {
    /// The zstd levels compared.
    public static let levels: [Int32] = [1, 3, 9]

    /// The codecs compared, JSON first (the baseline every ratio is taken against).
    public static let codecs: [any StateCodec] = [
        JSONStateCodec(), PropertyListStateCodec(), ProtobufStateCodec(), FlatBuffersStateCodec(),
    ]

    /// One strategy's figures on one state.
    public struct Result: Sendable {
        /// The codec's name.
        public var codec: String
        /// The zstd level, or nil for the raw encoding.
        public var level: Int32?
        /// Nodes in the state.
        public var nodes: Int
        /// Bytes of each node's output.
        public var outputBytes: Int
        /// Median seconds to produce the stored bytes (encode, then compress).
        public var encodeSeconds: Double
        /// Median seconds to get the state back (decompress, then verify and decode).
        public var decodeSeconds: Double
        /// Stored bytes.
        public var bytes: Int

        /// "FlatBuffers+zstd-3", "JSON", ...
        public var strategy: String { level.map { "\(codec)+zstd-\($0)" } ?? codec }
    }

    /// Encodes and decodes `state` with every codec, raw and at every level, `iterations` times
    /// each, and keeps the medians. Compressed figures are per-iteration sums of the codec's step
    /// and the compressor's step on the very same bytes.
    public static func measure(
        _ state: WorkflowState, outputBytes: Int, codecs: [any StateCodec] = codecs, levels: [Int32] = levels,
        iterations: Int = 3
    ) throws -> [Result] {
        var results: [Result] = []
        for codec in codecs {
            var encodes: [Double] = []
            var decodes: [Double] = []
            var compresses = [[Double]](repeating: [], count: levels.count)
            var decompresses = [[Double]](repeating: [], count: levels.count)
            var compressedSizes = [Int](repeating: 0, count: levels.count)
            var rawSize = 0
            for _ in 0..<max(1, iterations) {
                var encoded: [UInt8] = []
                encodes.append(try Timing.seconds { encoded = try codec.encode(state) })
                rawSize = encoded.count
                // A reader has the file in an aligned buffer; copying it there is not the codec's cost.
                let aligned = encoded.withUnsafeBytes { AlignedBytes(copying: $0) }
                var decoded: WorkflowState?
                decodes.append(try Timing.seconds { decoded = try codec.decode(aligned.bytes) })
                try check(decoded, against: state, codec: codec.name)
                decoded = nil
                for (slot, level) in levels.enumerated() {
                    var compressed: [UInt8] = []
                    compresses[slot].append(
                        try Timing.seconds { compressed = try encoded.withUnsafeBytes { try ZstdKit.compress($0, level: level) } })
                    compressedSizes[slot] = compressed.count
                    var restored: AlignedBytes?
                    decompresses[slot].append(
                        try Timing.seconds { restored = try compressed.withUnsafeBytes { try ZstdKit.decompress($0) } })
                    guard restored?.count == encoded.count else {
                        throw FlowError(.corruptData, "\(codec.name): zstd round trip changed the size")
                    }
                }
            }
            results.append(
                Result(
                    codec: codec.name, level: nil, nodes: state.nodes.count, outputBytes: outputBytes,
                    encodeSeconds: Timing.median(encodes), decodeSeconds: Timing.median(decodes), bytes: rawSize))
            for (slot, level) in levels.enumerated() {
                results.append(
                    Result(
                        codec: codec.name, level: level, nodes: state.nodes.count, outputBytes: outputBytes,
                        encodeSeconds: Timing.median(zip(encodes, compresses[slot]).map { $0 + $1 }),
                        decodeSeconds: Timing.median(zip(decodes, decompresses[slot]).map { $0 + $1 }),
                        bytes: compressedSizes[slot]))
            }
        }
        return results
    }

    /// Throws unless `decoded` holds what `original` held (the fields a round trip must keep).
    static func check(_ decoded: WorkflowState?, against original: WorkflowState, codec: String) throws {
        guard let decoded, decoded.nodes.count == original.nodes.count, decoded.lastSequence == original.lastSequence,
            decoded.nodes.last?.name == original.nodes.last?.name,
            decoded.nodes.last?.output == original.nodes.last?.output
        else {
            throw FlowError(.corruptData, "\(codec): the decoded state differs from the encoded one")
        }
    }
}
