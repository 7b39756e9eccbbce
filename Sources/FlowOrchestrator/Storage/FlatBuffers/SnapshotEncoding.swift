import FBSchema
import Foundation

/// The snapshot format without a store: for tools, exports and the serialization benchmarks.
///
/// These are the exact bytes and checks ``FlatBuffersStore`` uses; see docs/format.md.
package enum SnapshotEncoding {
    /// The uncompressed Snapshot FlatBuffer of `state` (what `snapshot.fb.zst` holds).
    package static func flatBuffer(_ state: WorkflowState) throws -> [UInt8] {
        try format(level: nil).withRawSnapshot(state) { Array($0) }
    }

    /// The state in an uncompressed Snapshot FlatBuffer, verified as a load verifies it.
    package static func state(fromFlatBuffer bytes: [UInt8], maxBytes: Int = 1 << 30) throws -> WorkflowState {
        // Zero-copy reading needs an aligned buffer; the verifier checks alignment.
        let aligned = AlignedBuffer(count: bytes.count)
        bytes.withUnsafeBytes { aligned.mutableBytes.copyMemory(from: $0) }
        return try format(level: nil, maxBytes: maxBytes).decodeVerified(aligned, path: "flatbuffer")
            .validated(path: "flatbuffer", nodeNamesChecked: true)
    }

    /// The bytes of a `snapshot.fb.zst` file for `state`: the FlatBuffer in a zstd frame with
    /// its checksum, at `level` (nil: zstd's fastest).
    package static func compressedSnapshot(_ state: WorkflowState, level: Int32? = 1) throws -> [UInt8] {
        try format(level: level).encode(state).bytes
    }

    /// The state in the bytes of a `snapshot.fb.zst` file.
    package static func state(fromCompressedSnapshot bytes: [UInt8], maxBytes: Int = 1 << 30) throws -> WorkflowState {
        let aligned = AlignedBuffer(count: bytes.count)
        bytes.withUnsafeBytes { aligned.mutableBytes.copyMemory(from: $0) }
        return try format(level: nil, maxBytes: maxBytes).decode(aligned, path: "snapshot")
            .validated(path: "snapshot", nodeNamesChecked: true)
    }

    private static func format(level: Int32?, maxBytes: Int = 1 << 30) -> FlatBuffersSnapshotFormat {
        FlatBuffersSnapshotFormat(compressionLevel: level, maxSnapshotBytes: maxBytes)
    }
}
