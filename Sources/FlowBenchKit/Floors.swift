import CZstd
import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The floors issue 16 measures the remaining gaps against: each operation's unavoidable work
/// done with bare system calls and library calls, in the same process and run.
public enum Floors {
    public struct Result: Sendable {
        /// The snapshot's raw FlatBuffer compressed by zstd level 1 on every core, written to a
        /// new file and fsynced (median seconds).
        public var save: Double
        /// That file read whole and decompressed (median seconds).
        public var load: Double
        /// `chainLength` appends of 64 bytes, each followed by `fdatasync` (seconds).
        public var chain: Double
        /// A task group running `nodes` empty child tasks, at most `maxConcurrency` at a time
        /// (best of two, seconds).
        public var executor: Double
        public var snapshotBytes: Int
        public var compressedBytes: Int
    }

    public static func measure(
        nodes: Int, chainLength: Int, maxConcurrency: Int, directory: String, iterations: Int
    ) async throws -> Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let raw = try SnapshotEncoding.flatBuffer(SnapshotBench.state(nodes: nodes))
        var saves: [Double] = []
        var loads: [Double] = []
        var compressedBytes = 0
        let path = directory + "/snapshot.zst"
        sync()
        for round in 0..<iterations {
            saves.append(
                try Timing.seconds {
                    let compressed = try raw.withUnsafeBytes { try compressOnEveryCore($0) }
                    compressedBytes = compressed.count
                    try write(compressed, to: path + ".\(round)")
                })
            loads.append(
                try Timing.seconds {
                    let bytes = try Data(contentsOf: URL(fileURLWithPath: path + ".\(round)"))
                    let restored = try bytes.withUnsafeBytes { try ZstdKit.decompress($0) }
                    guard restored.count == raw.count else { throw FlowError(.corruptData, "floors: zstd round trip changed the size") }
                })
        }
        let chain = try Timing.seconds { try appendAndSync(count: chainLength, path: directory + "/chain.log") }
        var executor = Double.infinity
        for _ in 0..<2 {
            executor = min(executor, await Timing.seconds { await emptyTasks(nodes, maxConcurrency: maxConcurrency) })
        }
        return Result(
            save: Timing.median(saves), load: Timing.median(loads), chain: chain, executor: executor,
            snapshotBytes: raw.count, compressedBytes: compressedBytes)
    }

    /// zstd level 1 with one worker per core (libzstd's own multithreading), checksummed.
    static func compressOnEveryCore(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw FlowError(.io, "zstd: no compression context") }
        defer { ZSTD_freeCCtx(context) }
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 1)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(ProcessInfo.processInfo.activeProcessorCount))
        let bound = ZSTD_compressBound(bytes.count)
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            written = ZSTD_compress2(context, buffer.baseAddress, bound, bytes.baseAddress, bytes.count)
            count = ZSTD_isError(written) != 0 ? 0 : written
        }
        try ZstdKit.check(written, "compression")
        return output
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FlowError(.io, "floors: cannot create \(path)") }
        defer { close(descriptor) }
        let done = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard done == bytes.count, fsync(descriptor) == 0 else { throw FlowError(.io, "floors: cannot write \(path)") }
    }

    static func appendAndSync(count: Int, path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FlowError(.io, "floors: cannot create \(path)") }
        defer { close(descriptor) }
        let record = [UInt8](repeating: 0x2A, count: 64)
        for _ in 0..<count {
            let done = record.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard done == record.count, fdatasync(descriptor) == 0 else { throw FlowError(.io, "floors: cannot append to \(path)") }
        }
    }

    static func emptyTasks(_ count: Int, maxConcurrency: Int) async {
        await withTaskGroup(of: Void.self) { group in
            var started = 0
            while started < min(count, maxConcurrency) {
                group.addTask {}
                started += 1
            }
            while await group.next() != nil {
                if started < count {
                    group.addTask {}
                    started += 1
                }
            }
        }
    }
}
