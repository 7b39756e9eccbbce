import CZstd
import Synchronization

/// Large temporary buffers and zstd contexts lent to the snapshot encoder and decoder and taken
/// back afterwards.
///
/// Saving or loading a big snapshot needs several buffers of megabytes that live for one call.
/// Fresh ones cost a page fault per 4 KiB touched (about a third of a 100k-node save's CPU time
/// here), and zstd contexts cost an allocation of their tables; reused ones cost nothing. A
/// buffer or context lent to one call is never lent to another at the same time, so concurrent
/// saves of different workflows each get their own. At most `retainedBytes` of buffers are kept
/// between calls (the largest ones win), and at most a few contexts.
final class ScratchPool: Sendable {
    /// What the pool keeps: free buffers and contexts (raw pointers, hence the unchecked box).
    private struct Free: @unchecked Sendable {
        var buffers: [UnsafeMutableRawBufferPointer] = []
        var compressors: [OpaquePointer] = []
        var decompressors: [OpaquePointer] = []
    }

    private let free = Mutex(Free())
    private let retainedBytes: Int
    private static let retainedContexts = 4

    init(retainedBytes: Int = 96 << 20) {
        self.retainedBytes = retainedBytes
    }

    deinit {
        free.withLock { free in
            for buffer in free.buffers { buffer.deallocate() }
            for context in free.compressors { ZSTD_freeCCtx(context) }
            for context in free.decompressors { ZSTD_freeDCtx(context) }
        }
    }

    /// The bytes of the buffers kept for later calls.
    var keptBytes: Int {
        free.withLock { $0.buffers.reduce(0) { $0 + $1.count } }
    }

    /// Runs `body` with at least `count` bytes (16-aligned, uninitialized), lent for the call.
    func withBuffer<Result>(
        _ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        let buffer = take(count)
        defer { give(buffer) }
        return try body(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// The smallest free buffer of at least `count` bytes, or a new one.
    private func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let reused: UnsafeMutableRawBufferPointer? = free.withLock { free in
            guard let best = free.buffers.indices.filter({ free.buffers[$0].count >= count })
                .min(by: { free.buffers[$0].count < free.buffers[$1].count })
            else { return nil }
            return free.buffers.remove(at: best)
        }
        return reused ?? .allocate(byteCount: max(count, 1), alignment: 16)
    }

    /// Keeps `buffer` when it fits under the limit with the larger ones kept; frees the rest.
    private func give(_ buffer: UnsafeMutableRawBufferPointer) {
        free.withLock { free in
            var all = free.buffers + [buffer]
            all.sort { $0.count > $1.count }
            free.buffers = []
            var total = 0
            for candidate in all {
                if total + candidate.count <= retainedBytes {
                    free.buffers.append(candidate)
                    total += candidate.count
                } else {
                    candidate.deallocate()
                }
            }
        }
    }

    /// Runs `body` with a compression context (its parameters reset), lent for the call.
    func withCompressor<Result>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        let context = try free.withLock { $0.compressors.popLast() } ?? Self.checked(ZSTD_createCCtx(), "compression")
        defer {
            ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
            let kept = free.withLock { free -> Bool in
                guard free.compressors.count < Self.retainedContexts else { return false }
                free.compressors.append(context)
                return true
            }
            if !kept { ZSTD_freeCCtx(context) }
        }
        return try body(context)
    }

    /// Runs `body` with a decompression context, lent for the call.
    func withDecompressor<Result>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        let context = try free.withLock { $0.decompressors.popLast() } ?? Self.checked(ZSTD_createDCtx(), "decompression")
        defer {
            ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters)
            let kept = free.withLock { free -> Bool in
                guard free.decompressors.count < Self.retainedContexts else { return false }
                free.decompressors.append(context)
                return true
            }
            if !kept { ZSTD_freeDCtx(context) }
        }
        return try body(context)
    }

    private static func checked(_ context: OpaquePointer?, _ what: String) throws -> OpaquePointer {
        guard let context else { throw FlowError(.io, "zstd: cannot allocate a \(what) context") }
        return context
    }
}
