#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// File operations built on a ``FileLayer``: whole-buffer writes that survive short writes and
/// `EINTR`, bounded reads, atomic replacement. Every failure becomes a ``FlowError`` naming the
/// path and what the system said.
struct FileIO: Sendable {
    let layer: any FileLayer

    /// Retries `call` while it fails with `EINTR`.
    @inline(__always)
    static func retrying<T>(_ call: () -> Result<T, Errno>) -> Result<T, Errno> {
        while true {
            let result = call()
            if case .failure(let errno) = result, errno == .interrupted { continue }
            return result
        }
    }

    /// The `io` error of `call` failing with `errno` while `action` (`writing`, `opening`, ...)
    /// was done to `path`: the message says it once, the cause is the public ``SystemCallError``.
    static func ioError(_ action: String, _ path: String, _ errno: Errno, call: String = "") -> FlowError {
        FlowError(
            .io, "\(action) \(path): \(errno)", cause: SystemCallError(systemCall: call, errno: errno.code), path: path)
    }

    func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        switch Self.retrying({ layer.open(path, flags, mode) }) {
        case .success(let fd): return fd
        case .failure(let errno): throw Self.ioError("opening", path, errno, call: "open")
        }
    }

    /// Opens `path` for reading; nil when it does not exist.
    func openIfExists(_ path: String) throws -> Int32? {
        switch Self.retrying({ layer.open(path, O_RDONLY, 0) }) {
        case .success(let fd): return fd
        case .failure(let errno) where errno == .notFound: return nil
        case .failure(let errno): throw Self.ioError("opening", path, errno, call: "open")
        }
    }

    func close(_ fd: Int32) {
        _ = layer.close(fd)
    }

    /// Writes all of `bytes` at the file position, looping over short writes.
    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            switch Self.retrying({ layer.write(fd, rest) }) {
            case .success(let written) where written > 0: done += written
            case .success: throw FlowError(.io, "writing \(path): the system wrote nothing")
            case .failure(let errno): throw Self.ioError("writing", path, errno, call: "write")
            }
        }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            switch Self.retrying({ layer.pwrite(fd, rest, offset + Int64(done)) }) {
            case .success(let written) where written > 0: done += written
            case .success: throw FlowError(.io, "writing \(path): the system wrote nothing")
            case .failure(let errno): throw Self.ioError("writing", path, errno, call: "pwrite")
            }
        }
    }

    /// Throws when the open file `fd` no longer has a name (it, or its directory, was removed
    /// while it was written): what is written to it then is lost on close.
    func requireNamed(_ fd: Int32, path: String) throws {
        switch layer.linkCount(fd) {
        case .success(let count) where count > 0: return
        case .success:
            throw FlowError(
                .io, "writing \(path): the file was removed (or its directory deleted) while it was written",
                cause: SystemCallError(systemCall: "fstat", errno: ENOENT), path: path)
        case .failure(let errno): throw Self.ioError("checking", path, errno, call: "fstat")
        }
    }

    func sync(_ fd: Int32, path: String, dataOnly: Bool = false) throws {
        let result = Self.retrying { dataOnly ? layer.fdatasync(fd) : layer.fsync(fd) }
        if case .failure(let errno) = result { throw Self.ioError("syncing", path, errno, call: dataOnly ? "fdatasync" : "fsync") }
    }

    func size(_ fd: Int32, path: String) throws -> Int64 {
        switch layer.fileSize(fd) {
        case .success(let size): return size
        case .failure(let errno): throw Self.ioError("reading the size of", path, errno, call: "fstat")
        }
    }

    func truncate(_ fd: Int32, to length: Int64, path: String) throws {
        if case .failure(let errno) = Self.retrying({ layer.ftruncate(fd, length) }) {
            throw Self.ioError("truncating", path, errno, call: "ftruncate")
        }
    }

    /// Reads the whole file into an aligned buffer, refusing files larger than `limit` bytes.
    /// Nil when the file does not exist.
    func readFile(_ path: String, limit: Int) throws -> AlignedBuffer? {
        guard let fd = try openIfExists(path) else { return nil }
        defer { close(fd) }
        let size = try self.size(fd, path: path)
        guard size <= Int64(limit) else {
            throw FlowError(.corruptData, "\(path): file is \(size) bytes, over the limit of \(limit) bytes")
        }
        let buffer = AlignedBuffer(count: Int(size))
        var done = 0
        while done < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[done...])
            switch Self.retrying({ layer.pread(fd, rest, Int64(done)) }) {
            case .success(let read) where read > 0: done += read
            case .success: throw FlowError(.corruptData, "\(path): file shrank while being read")
            case .failure(let errno): throw Self.ioError("reading", path, errno, call: "pread")
            }
        }
        return buffer
    }

    /// A temporary name next to `path`, unique in this process and across processes, so that
    /// concurrent writers never write into each other's file.
    static func temporaryName(for path: String) -> String {
        "\(path).tmp-\(getpid())-\(temporaryCounter.add(1, ordering: .relaxed).newValue)"
    }

    private static let temporaryCounter = Atomic<UInt64>(0)

    /// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a
    /// mix: write a temporary file, sync it, rename it over `path`, sync the directory. The
    /// temporary file is synced whatever the durability (a rename of unsynced data can leave an
    /// empty file after a power loss); with `buffered` the directory sync is skipped, so the
    /// replacement itself may be lost on power loss, never the old content.
    func replaceAtomically(
        _ path: String, with bytes: UnsafeRawBufferPointer, durability: Durability
    ) throws {
        let temporary = Self.temporaryName(for: path)
        try writeTemporary(temporary, bytes: bytes, durability: .fsync)
        try rename(temporary, to: path)
        if durability == .fsync { try syncDirectory(Self.parent(of: path)) }
    }

    /// Writes a complete temporary file (synced unless `durability` is buffered), removing it on
    /// failure.
    func writeTemporary(_ path: String, bytes: UnsafeRawBufferPointer, durability: Durability) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(fd, bytes, path: path)
            if durability == .fsync { try sync(fd, path: path) }
        } catch {
            close(fd)
            _ = layer.unlink(path)
            throw error
        }
        if case .failure(let errno) = layer.close(fd) {
            _ = layer.unlink(path)
            throw Self.ioError("closing", path, errno, call: "close")
        }
    }

    func rename(_ from: String, to: String) throws {
        if case .failure(let errno) = Self.retrying({ layer.rename(from, to) }) {
            throw Self.ioError("renaming \(from) to", to, errno, call: "rename")
        }
    }

    /// Adds a second name for a file; an existing `to` is left as it is.
    func link(_ from: String, to: String) throws {
        switch FileIO.retrying({ layer.link(from, to) }) {
        case .success: return
        case .failure(let errno) where errno == .exists: return
        case .failure(let errno): throw Self.ioError("linking \(from) as", to, errno, call: "link")
        }
    }

    /// Reads `count` bytes at `offset` (fewer at the end of the file) into an aligned buffer.
    func read(_ fd: Int32, at offset: Int64, count: Int, path: String) throws -> AlignedBuffer {
        let buffer = AlignedBuffer(count: count)
        var done = 0
        while done < count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer.mutableBytes[done..<count])
            switch Self.retrying({ layer.pread(fd, rest, offset + Int64(done)) }) {
            case .success(let read) where read > 0: done += read
            case .success: return done == count ? buffer : buffer.prefix(done)
            case .failure(let errno): throw Self.ioError("reading", path, errno, call: "pread")
            }
        }
        return buffer
    }

    /// Makes the directory's entries (new, renamed or removed files) durable.
    func syncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// Creates `path` and its missing parents; syncs each parent that gained an entry.
    func makeDirectories(_ path: String, durability: Durability) throws {
        if layer.isDirectory(path) { return }
        let parent = Self.parent(of: path)
        if parent != path { try makeDirectories(parent, durability: durability) }
        switch Self.retrying({ layer.mkdir(path, 0o755) }) {
        case .success:
            if durability == .fsync { try syncDirectory(parent) }
        case .failure(let errno) where errno == .exists:
            break
        case .failure(let errno):
            throw Self.ioError("creating directory", path, errno, call: "mkdir")
        }
    }

    /// Removes a file; a missing file is fine.
    func remove(_ path: String) throws {
        switch Self.retrying({ layer.unlink(path) }) {
        case .success: return
        case .failure(let errno) where errno == .notFound: return
        case .failure(let errno): throw Self.ioError("removing", path, errno, call: "unlink")
        }
    }

    /// Removes a directory and everything in it. A symbolic link (at the top or inside) is
    /// removed as a link: what it points to is never touched, so a removal never reaches
    /// outside the tree.
    func removeTree(_ path: String) throws {
        // `unlink` removes a file or a link and refuses a directory (EISDIR; EPERM on some
        // systems): one call that never follows a link, where `stat` would.
        switch Self.retrying({ layer.unlink(path) }) {
        case .success: return
        case .failure(let errno) where errno == .notFound: return
        case .failure(let errno) where errno.code == EISDIR || errno.code == EPERM: break
        case .failure(let errno): throw Self.ioError("removing", path, errno, call: "unlink")
        }
        if case .success(let names) = layer.listDirectory(path) {
            for name in names { try removeTree(path + "/" + name) }
        }
        switch Self.retrying({ layer.rmdir(path) }) {
        case .success: return
        case .failure(let errno) where errno == .notFound: return
        case .failure(let errno): throw Self.ioError("removing directory", path, errno, call: "rmdir")
        }
    }

    /// The names in a directory, sorted; empty when it does not exist.
    func list(_ path: String) throws -> [String] {
        switch layer.listDirectory(path) {
        case .success(let names): return names.sorted()
        case .failure(let errno) where errno == .notFound: return []
        case .failure(let errno): throw Self.ioError("listing", path, errno, call: "opendir")
        }
    }

    func isDirectory(_ path: String) -> Bool { layer.isDirectory(path) }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Heap memory aligned for FlatBuffers (16 bytes), freed with its owner.
final class AlignedBuffer: @unchecked Sendable {
    let mutableBytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        mutableBytes = .allocate(byteCount: max(count, 1), alignment: 16)
        self.count = count
        owner = nil
    }

    let count: Int

    private init(storage: UnsafeMutableRawBufferPointer, count: Int) {
        mutableBytes = storage
        self.count = count
        owner = nil
    }

    /// The first `count` bytes of memory owned elsewhere (16-aligned), which must outlive this
    /// buffer; never freed by it.
    init(borrowing storage: UnsafeMutableRawBufferPointer, count: Int) {
        mutableBytes = storage
        self.count = min(count, storage.count)
        owner = nil
        borrowed = true
    }

    /// True when the memory belongs to someone else.
    private var borrowed = false

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mutableBytes.baseAddress, count: count)
    }

    /// The first `count` bytes, sharing this buffer's memory.
    func prefix(_ count: Int) -> AlignedBuffer {
        let view = AlignedBuffer(storage: mutableBytes, count: min(count, self.count))
        view.owner = self
        return view
    }

    /// The buffer whose memory a prefix view shares (kept alive by the view).
    private var owner: AlignedBuffer?

    deinit { if owner == nil, !borrowed { mutableBytes.deallocate() } }
}
