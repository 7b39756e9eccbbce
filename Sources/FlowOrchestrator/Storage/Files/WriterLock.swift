#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The single writer of one workflow: an advisory `flock` on `DIR/lock`, and the workflow's
/// fencing epoch, which the same file holds.
///
/// The file reads `epoch N\npid P\n`: the epoch of the latest acquisition and the pid of its
/// process (so that a refused writer can name the holder). Every acquisition raises the epoch
/// and syncs the file before it returns, so no later writer (after a crash or a power loss
/// too) is given an epoch an earlier one had. Before every write, the holder reads the epoch
/// back from its open descriptor (one `pread` of a few bytes) and stops with `staleWriter` when
/// it changed: a program that skipped the `flock` but acquired a writer has fenced this one off.
/// The kernel drops the `flock` when the holder dies, so a crash never leaves a stale lock.
final class WriterLock: Sendable {
    private let fd: Mutex<Int32?>
    private let io: FileIO
    /// The workflow.
    let key: WorkflowKey
    /// This acquisition's epoch.
    let epoch: UInt64
    let path: String
    /// Runs once when the lock is released (gives the writer's slot back).
    private let onRelease: (@Sendable () -> Void)?

    private init(fd: Int32, io: FileIO, key: WorkflowKey, epoch: UInt64, path: String, onRelease: (@Sendable () -> Void)?) {
        self.fd = Mutex(fd)
        self.onRelease = onRelease
        self.io = io
        self.key = key
        self.epoch = epoch
        self.path = path
    }

    /// The most bytes the epoch line can take (`epoch ` and 20 digits and a newline).
    private static let epochLineBytes = 27

    /// Takes the lock of the workflow whose directory is `directory` and raises its epoch, or
    /// throws `locked` naming the holder's pid. With `ignoringHolder` the `flock` is skipped
    /// (only tests do this, to stand for a program that skips the lock).
    static func acquire(
        directory: String, key: WorkflowKey, io: FileIO, ignoringHolder: Bool = false,
        onRelease: (@Sendable () -> Void)? = nil
    ) throws -> WriterLock {
        let path = directory + "/lock"
        var attempts = 0
        var fd: Int32 = -1
        // A workflow directory made by this call holds nothing durable yet (see below).
        let isNew = !io.isDirectory(directory)
        while true {
            try io.makeDirectories(directory, durability: .fsync)
            fd = try io.open(path, O_RDWR | O_CREAT)
            if ignoringHolder { break }
            switch FileIO.retrying({ io.layer.flock(fd, LOCK_EX | LOCK_NB) }) {
            case .success:
                break
            case .failure(let errno):
                let holder = readHolder(fd, io: io)
                io.close(fd)
                if errno == .wouldBlock {
                    throw FlowError(
                        .locked, "workflow \(key) is being written by another runner (\(holder)); wait for it to finish")
                }
                throw FileIO.ioError("locking", path, errno, call: "flock")
            }
            // A lock on a file a deleter unlinked meanwhile guards nothing: take the new one.
            if isStillNamed(fd, path) { break }
            io.close(fd)
            attempts += 1
            if attempts > 8 { throw FlowError(.locked, "workflow \(key): its lock file keeps being replaced") }
        }
        do {
            // An unreadable epoch (a file from before epochs, or damaged) starts over at 1; the
            // check compares for equality, so a writer of any other epoch is still refused.
            let epoch = (readEpoch(fd, io: io) ?? 0) &+ 1
            let text = Array("epoch \(epoch)\npid \(getpid())\n".utf8)
            try text.withUnsafeBytes { bytes in try io.pwriteAll(fd, bytes, at: 0, path: path) }
            try io.truncate(fd, to: Int64(text.count), path: path)
            // The directory entry is made durable by the first durable snapshot (its rename
            // syncs the directory); the epoch must be durable before any write of this writer.
            // Except in a directory this call made: until its first snapshot is durable nothing
            // of the workflow is, and a power loss that then empties the lock file leaves no
            // writer alive to hold the epoch the next one is given again (ADR 13).
            if !isNew { try io.sync(fd, path: path, dataOnly: true) }
            return WriterLock(fd: fd, io: io, key: key, epoch: epoch, path: path, onRelease: onRelease)
        } catch {
            io.close(fd)
            throw error
        }
    }

    /// Throws `staleWriter` unless the file still holds this writer's epoch, `writerStopped`
    /// once released. One `pread` of a few bytes: cheap enough for every write.
    func check() throws(FlowError) {
        let current: UInt64?? = fd.withLock { fd in fd.map { Self.readEpoch($0, io: io) } }
        guard let current else {
            throw FlowError(.writerStopped, "workflow \(key): the writer of epoch \(epoch) was released")
        }
        guard current == epoch else { throw FlowError.staleWriter(key, epoch: epoch, current: current) }
    }

    /// The epoch in the lock file open as `fd`; nil when it holds none.
    private static func readEpoch(_ fd: Int32, io: FileIO) -> UInt64? {
        withUnsafeTemporaryAllocation(byteCount: epochLineBytes, alignment: 1) { buffer in
            guard case .success(let count) = FileIO.retrying({ io.layer.pread(fd, buffer, 0) }) else { return nil }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            let prefix = "epoch ".utf8
            guard bytes.starts(with: prefix) else { return nil }
            var value: UInt64 = 0
            var digits = 0
            for byte in bytes.dropFirst(prefix.count) {
                if byte == UInt8(ascii: "\n") { break }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                value = times &+ UInt64(byte - UInt8(ascii: "0"))
                digits += 1
            }
            return digits > 0 ? value : nil
        }
    }

    /// Whether `fd` is still the file `path` names (same device and inode).
    private static func isStillNamed(_ fd: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        return fstat(fd, &open) == 0 && stat(path, &named) == 0 && open.st_dev == named.st_dev
            && open.st_ino == named.st_ino
    }

    /// The holder named in the lock file (`pid P`).
    private static func readHolder(_ fd: Int32, io: FileIO) -> String {
        var bytes = [UInt8](repeating: 0, count: 96)
        let count = bytes.withUnsafeMutableBytes { buffer in
            (try? io.layer.pread(fd, buffer, 0).get()) ?? 0
        }
        let lines = String(decoding: bytes.prefix(count), as: UTF8.self).split(separator: "\n")
        guard let line = lines.first(where: { $0.hasPrefix("pid ") }) else { return "pid unknown" }
        return String(line).trimmingCharacters(in: [" "])
    }

    func releaseNow() {
        let held = fd.withLock { fd in
            defer { fd = nil }
            return fd
        }
        guard let held else { return }
        _ = io.layer.flock(held, LOCK_UN)
        io.close(held)
        onRelease?()
    }

    deinit { releaseNow() }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
