import CZstd
import Foundation

/// zstd frames with the content checksum on, decompressed into aligned memory under a size cap.
enum Zstd {
    /// zstd's fastest level: next to no compression, still a checksummed frame.
    static var fastestLevel: Int32 { ZSTD_minCLevel() }

    /// Compresses `bytes` into one frame at `level` (1 to 19; negative levels trade size for speed).
    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else {
            throw FlowError(.io, "zstd: cannot allocate a compression context")
        }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "setting the level")
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "enabling the checksum")
        // Large snapshots compress on every core (still one frame); a library built without
        // threads refuses the parameter, which only costs speed.
        if bytes.count >= 1 << 20 {
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(min(4, ProcessInfo.processInfo.activeProcessorCount)))
        }
        let bound = ZSTD_compressBound(bytes.count)
        var failure: FlowError?
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            let written = ZSTD_compress2(context, buffer.baseAddress, bound, bytes.baseAddress, bytes.count)
            if ZSTD_isError(written) != 0 {
                failure = FlowError(.io, "zstd: compression failed: \(String(cString: ZSTD_getErrorName(written)))")
                count = 0
            } else {
                count = written
            }
        }
        if let failure { throw failure }
        return output
    }

    /// Decompresses the single frame in `bytes` into an aligned buffer, refusing (as
    /// `corruptData`) a frame that is damaged, fails its checksum, is followed by other bytes, or
    /// would decompress past `limit` bytes.
    static func decompress(_ bytes: UnsafeRawBufferPointer, limit: Int, path: String) throws -> AlignedBuffer {
        let frameSize = ZSTD_findFrameCompressedSize(bytes.baseAddress, bytes.count)
        if ZSTD_isError(frameSize) != 0 {
            throw FlowError(
                .corruptData,
                "\(path): not a complete zstd frame (\(String(cString: ZSTD_getErrorName(frameSize))))")
        }
        guard frameSize == bytes.count else {
            throw FlowError(.corruptData, "\(path): \(bytes.count - frameSize) unexpected bytes after the zstd frame at offset \(frameSize)")
        }
        let declared = ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
        // Our writer always records the size; a frame without it is not ours.
        guard declared != ZSTD_CONTENTSIZE_ERROR, declared != ZSTD_CONTENTSIZE_UNKNOWN else {
            throw FlowError(.corruptData, "\(path): zstd frame does not declare its size")
        }
        guard declared <= UInt64(limit) else {
            throw FlowError(
                .corruptData, "\(path): zstd frame declares \(declared) bytes, over the limit of \(limit) bytes")
        }
        let output = AlignedBuffer(count: Int(declared))
        guard let context = ZSTD_createDCtx() else {
            throw FlowError(.io, "zstd: cannot allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(context) }
        let written = ZSTD_decompressDCtx(
            context, output.mutableBytes.baseAddress, Int(declared), bytes.baseAddress, bytes.count)
        if ZSTD_isError(written) != 0 {
            throw FlowError(
                .corruptData, "\(path): zstd frame is damaged (\(String(cString: ZSTD_getErrorName(written))))")
        }
        guard written == Int(declared) else {
            throw FlowError(.corruptData, "\(path): zstd frame holds \(written) bytes, declares \(declared)")
        }
        return output
    }

    private static func check(_ code: Int, _ what: String) throws {
        if ZSTD_isError(code) != 0 {
            throw FlowError(.io, "zstd: \(what) failed: \(String(cString: ZSTD_getErrorName(code)))")
        }
    }
}
