import CZstd
import Dispatch
import Foundation

/// zstd frames with the content checksum on, decompressed into aligned memory under a size cap.
///
/// Content is cut into frames of ``frameContent`` bytes, compressed and decompressed
/// independently, so that a large snapshot uses every core both ways; the frames follow each
/// other in the file, which any zstd reader decodes as the concatenation of their contents
/// (`zstd -d` included). The bytes written do not depend on how many threads wrote them.
enum Zstd {
    /// zstd's fastest level: next to no compression, still a checksummed frame.
    static var fastestLevel: Int32 { ZSTD_minCLevel() }

    /// The content of each frame but the last: 1 MiB. zstd's fast levels look back less than
    /// that, so cutting here costs under 1% of size.
    static let frameContent = 1 << 20

    /// Compresses `bytes` at `level` (1 to 19; negative levels trade size for speed) into one
    /// frame per ``frameContent`` bytes, on up to `threads` threads.
    static func compress(
        _ bytes: UnsafeRawBufferPointer, level: Int32, threads: Int, scratch: ScratchPool
    ) throws -> [UInt8] {
        let frames = max(1, (bytes.count + frameContent - 1) / frameContent)
        let bound = ZSTD_compressBound(min(bytes.count, frameContent))
        return try scratch.withBuffer(frames * bound) { staging in
            let sizes = Locked([Result<Int, FlowError>](repeating: .success(0), count: frames))
            let shared = Shared(input: bytes, output: staging)
            let workers = min(max(1, threads), frames)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let outcome = Result<Void, any Error> {
                    try scratch.withCompressor { context in
                        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "setting the level")
                        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "enabling the checksum")
                        for frame in stride(from: worker, to: frames, by: workers) {
                            let start = frame * frameContent
                            let count = min(frameContent, shared.input.count - start)
                            let written = ZSTD_compress2(
                                context, shared.output.baseAddress! + frame * bound, bound,
                                shared.input.baseAddress.map { $0 + start }, count)
                            let result: Result<Int, FlowError> =
                                ZSTD_isError(written) != 0
                                ? .failure(FlowError(.io, "zstd: compression failed: \(String(cString: ZSTD_getErrorName(written)))"))
                                : .success(written)
                            sizes.withLock { $0[frame] = result }
                        }
                    }
                }
                if case .failure(let error) = outcome {
                    let failure = error as? FlowError ?? FlowError(.io, "zstd: \(error)")
                    sizes.withLock { $0[worker] = .failure(failure) }
                }
            }
            let written = try sizes.withLock { sizes in try sizes.map { try $0.get() } }
            var output = [UInt8]()
            output.reserveCapacity(written.reduce(0, +))
            for (frame, count) in written.enumerated() {
                output.append(contentsOf: UnsafeRawBufferPointer(start: staging.baseAddress! + frame * bound, count: count))
            }
            return output
        }
    }

    /// Decompresses the frames in `bytes` into one aligned buffer (lent from `scratch` for the
    /// duration of `body`), on up to `threads` threads. Refuses (as `corruptData`) a frame that
    /// is damaged, fails its checksum, does not declare its size, or is skippable, trailing
    /// bytes that are no frame, and content past `limit` bytes in all (a decompression bomb).
    static func decompress<Result>(
        _ bytes: UnsafeRawBufferPointer, limit: Int, path: String, threads: Int, scratch: ScratchPool,
        _ body: (AlignedBuffer) throws -> Result
    ) throws -> Result {
        let frames = try frames(of: bytes, limit: limit, path: path)
        let total = frames.last.map { $0.outputOffset + $0.contentSize } ?? 0
        return try scratch.withBuffer(total) { output in
            let failures = Locked([FlowError?](repeating: nil, count: frames.count))
            let shared = Shared(input: bytes, output: output)
            let workers = min(max(1, threads), frames.count)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                do {
                    try scratch.withDecompressor { context in
                        for index in stride(from: worker, to: frames.count, by: workers) {
                            let frame = frames[index]
                            let written = ZSTD_decompressDCtx(
                                context, shared.output.baseAddress! + frame.outputOffset, frame.contentSize,
                                shared.input.baseAddress! + frame.inputOffset, frame.compressedSize)
                            if ZSTD_isError(written) != 0 {
                                let failure = FlowError(
                                    .corruptData,
                                    "\(path): zstd frame at offset \(frame.inputOffset) is damaged (\(String(cString: ZSTD_getErrorName(written))))")
                                failures.withLock { $0[index] = failure }
                            } else if written != frame.contentSize {
                                let failure = FlowError(
                                    .corruptData,
                                    "\(path): zstd frame at offset \(frame.inputOffset) holds \(written) bytes, declares \(frame.contentSize)")
                                failures.withLock { $0[index] = failure }
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0[worker] = error as? FlowError ?? FlowError(.io, "zstd: \(error)") }
                }
            }
            if let failure = failures.withLock({ $0.compactMap { $0 }.first }) { throw failure }
            return try body(AlignedBuffer(borrowing: output, count: total))
        }
    }

    /// A frame's place in the file and in the content.
    private struct Frame {
        var inputOffset: Int
        var compressedSize: Int
        var outputOffset: Int
        var contentSize: Int
    }

    /// The frames of `bytes`, checked for shape and declared sizes (not yet for content).
    private static func frames(of bytes: UnsafeRawBufferPointer, limit: Int, path: String) throws -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        var total = 0
        repeat {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let size = ZSTD_findFrameCompressedSize(rest.baseAddress, rest.count)
            if ZSTD_isError(size) != 0 {
                let reason = String(cString: ZSTD_getErrorName(size))
                throw FlowError(
                    .corruptData,
                    offset == 0
                        ? "\(path): not a complete zstd frame (\(reason))"
                        : "\(path): \(bytes.count - offset) unexpected bytes after the zstd frames at offset \(offset) (\(reason))")
            }
            // A skippable frame (or anything but a data frame) is not something we wrote.
            guard rest.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: ZSTD_MAGICNUMBER) else {
                throw FlowError(.corruptData, "\(path): the frame at offset \(offset) is not a zstd data frame")
            }
            let declared = ZSTD_getFrameContentSize(rest.baseAddress, rest.count)
            // Our writer always records the size; a frame without it is not ours.
            guard declared != ZSTD_CONTENTSIZE_ERROR, declared != ZSTD_CONTENTSIZE_UNKNOWN else {
                throw FlowError(.corruptData, "\(path): zstd frame at offset \(offset) does not declare its size")
            }
            guard declared <= UInt64(limit - total) else {
                throw FlowError(
                    .corruptData,
                    "\(path): zstd frames declare over the limit of \(limit) bytes (frame at offset \(offset))")
            }
            frames.append(Frame(inputOffset: offset, compressedSize: size, outputOffset: total, contentSize: Int(declared)))
            total += Int(declared)
            offset += size
        } while offset < bytes.count
        return frames
    }

    /// Input and output shared by the workers, each of which touches its own frames only.
    private struct Shared: @unchecked Sendable {
        let input: UnsafeRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
    }

    private static func check(_ code: Int, _ what: String) throws {
        if ZSTD_isError(code) != 0 {
            throw FlowError(.io, "zstd: \(what) failed: \(String(cString: ZSTD_getErrorName(code)))")
        }
    }
}
