import CZstd
import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An 8-byte aligned, owned byte buffer: what the FlatBuffers Verifier needs to read from.
public final class AlignedBytes: @unchecked Sendable {
    /// The bytes; valid as long as this object lives.
    public let pointer: UnsafeMutableRawPointer
    /// How many bytes.
    public let count: Int

    /// `count` uninitialised bytes.
    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
    }

    /// A copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if let base = bytes.baseAddress { pointer.copyMemory(from: base, byteCount: bytes.count) }
    }

    deinit { pointer.deallocate() }

    /// The bytes as a buffer.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
}

/// zstd as the benchmarks use it: one frame with its content checksum, single-threaded, so that
/// every strategy pays the same price; and dictionaries for small records.
public enum ZstdKit {
    /// Compresses `bytes` into one checksummed frame at `level`.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw FlowError(.io, "zstd: no compression context") }
        defer { ZSTD_freeCCtx(context) }
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        let bound = ZSTD_compressBound(bytes.count)
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            written = ZSTD_compress2(context, buffer.baseAddress, bound, bytes.baseAddress, bytes.count)
            count = ZSTD_isError(written) != 0 ? 0 : written
        }
        try check(written, "compression")
        return output
    }

    /// Decompresses one frame that declares its size into an aligned buffer.
    public static func decompress(_ bytes: UnsafeRawBufferPointer) throws -> AlignedBytes {
        let size = ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN else {
            throw FlowError(.corruptData, "zstd: frame without a content size")
        }
        let output = AlignedBytes(count: Int(size))
        let written = ZSTD_decompress(output.pointer, output.count, bytes.baseAddress, bytes.count)
        try check(written, "decompression")
        return output
    }

    static func check(_ code: Int, _ what: String) throws {
        if ZSTD_isError(code) != 0 {
            throw FlowError(.io, "zstd: \(what) failed: \(String(cString: ZSTD_getErrorName(code)))")
        }
    }

    // MARK: Dictionaries

    /// `ZDICT_trainFromBuffer` from libzstd, found at run time: the `CZstd` module map exposes
    /// `zstd.h` only, and the library (which owns that target) has no use for `zdict.h`.
    private typealias TrainFunction = @convention(c) (
        UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, UnsafePointer<Int>?, UInt32
    ) -> Int

    private static let trainFunction: TrainFunction? = {
        // A nil handle is RTLD_DEFAULT: every library the process has loaded.
        guard let symbol = dlsym(nil, "ZDICT_trainFromBuffer") else { return nil }
        return unsafeBitCast(symbol, to: TrainFunction.self)
    }()

    /// A dictionary of at most `capacity` bytes trained on `samples` (libzstd's
    /// `ZDICT_trainFromBuffer`).
    public static func trainDictionary(samples: [[UInt8]], capacity: Int) throws -> [UInt8] {
        guard let train = trainFunction else {
            throw FlowError(.io, "zstd: this libzstd has no ZDICT_trainFromBuffer")
        }
        let joined = Array(samples.joined())
        let sizes = samples.map(\.count)
        var written = 0
        let dictionary = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            written = joined.withUnsafeBytes { joined in
                sizes.withUnsafeBufferPointer { sizes in
                    train(buffer.baseAddress, capacity, joined.baseAddress, sizes.baseAddress, UInt32(sizes.count))
                }
            }
            count = ZSTD_isError(written) != 0 ? 0 : written
        }
        try check(written, "dictionary training")
        return dictionary
    }

    /// A trained dictionary digested for compression at one level and for decompression.
    public final class Dictionary: @unchecked Sendable {
        private let compressing: OpaquePointer
        private let decompressing: OpaquePointer
        private let cctx: OpaquePointer
        private let dctx: OpaquePointer
        /// The dictionary's size in bytes.
        public let size: Int

        /// Digests `bytes` for `level`.
        public init(_ bytes: [UInt8], level: Int32) throws {
            size = bytes.count
            guard
                let compressing = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }),
                let decompressing = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }),
                let cctx = ZSTD_createCCtx(), let dctx = ZSTD_createDCtx()
            else { throw FlowError(.io, "zstd: cannot digest the dictionary") }
            self.compressing = compressing
            self.decompressing = decompressing
            self.cctx = cctx
            self.dctx = dctx
        }

        deinit {
            ZSTD_freeCDict(compressing)
            ZSTD_freeDDict(decompressing)
            ZSTD_freeCCtx(cctx)
            ZSTD_freeDCtx(dctx)
        }

        /// One frame of `bytes` compressed with the dictionary (not thread-safe: one context).
        public func compress(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
            let bound = ZSTD_compressBound(bytes.count)
            var written = 0
            let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                written = ZSTD_compress_usingCDict(cctx, buffer.baseAddress, bound, bytes.baseAddress, bytes.count, compressing)
                count = ZSTD_isError(written) != 0 ? 0 : written
            }
            try ZstdKit.check(written, "dictionary compression")
            return output
        }

        /// The `originalSize` bytes inside one frame made by ``compress(_:)``.
        public func decompress(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
            let written = ZSTD_decompress_usingDDict(
                dctx, output.baseAddress, output.count, bytes.baseAddress, bytes.count, decompressing)
            try ZstdKit.check(written, "dictionary decompression")
            return written
        }
    }

    /// Compresses many small buffers, one frame each, without a dictionary, reusing one context.
    public final class Plain: @unchecked Sendable {
        private let cctx: OpaquePointer
        private let dctx: OpaquePointer
        private let level: Int32

        /// A context for `level`.
        public init(level: Int32) throws {
            guard let cctx = ZSTD_createCCtx(), let dctx = ZSTD_createDCtx() else {
                throw FlowError(.io, "zstd: no context")
            }
            self.cctx = cctx
            self.dctx = dctx
            self.level = level
        }

        deinit {
            ZSTD_freeCCtx(cctx)
            ZSTD_freeDCtx(dctx)
        }

        /// One frame of `bytes`.
        public func compress(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
            let bound = ZSTD_compressBound(bytes.count)
            var written = 0
            let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                written = ZSTD_compressCCtx(cctx, buffer.baseAddress, bound, bytes.baseAddress, bytes.count, level)
                count = ZSTD_isError(written) != 0 ? 0 : written
            }
            try ZstdKit.check(written, "compression")
            return output
        }

        /// The bytes inside one frame made by ``compress(_:)``.
        public func decompress(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
            let written = ZSTD_decompressDCtx(dctx, output.baseAddress, output.count, bytes.baseAddress, bytes.count)
            try ZstdKit.check(written, "decompression")
            return written
        }
    }
}
