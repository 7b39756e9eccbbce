#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The single-writer lock of one workflow: an advisory `flock` on `DIR/lock`, which also holds
/// the holder's pid so that a refused writer can name it. The kernel drops the lock when the
/// holder dies, so a crash never leaves a stale lock behind.
final class WriterLock: WorkflowLease {
    private let fd: Mutex<Int32?>
    private let io: FileIO

    private init(fd: Int32, io: FileIO) {
        self.fd = Mutex(fd)
        self.io = io
    }

    /// Takes the lock of the workflow whose directory is `directory`, or throws `locked` naming
    /// the holder's pid.
    static func acquire(directory: String, key: WorkflowKey, io: FileIO) throws -> WriterLock {
        let path = directory + "/lock"
        var attempts = 0
        var fd: Int32 = -1
        while true {
            try io.makeDirectories(directory, durability: .fsync)
            fd = try io.open(path, O_RDWR | O_CREAT)
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
        let pid = Array("pid \(getpid())\n".utf8)
        do {
            try io.truncate(fd, to: 0, path: path)
            try pid.withUnsafeBytes { bytes in try io.pwriteAll(fd, bytes, at: 0, path: path) }
        } catch {
            io.close(fd)
            throw error
        }
        return WriterLock(fd: fd, io: io)
    }

    /// Whether `fd` is still the file `path` names (same device and inode).
    private static func isStillNamed(_ fd: Int32, _ path: String) -> Bool {
        var open = stat()
        var named = stat()
        return fstat(fd, &open) == 0 && stat(path, &named) == 0 && open.st_dev == named.st_dev
            && open.st_ino == named.st_ino
    }

    private static func readHolder(_ fd: Int32, io: FileIO) -> String {
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = bytes.withUnsafeMutableBytes { buffer in
            (try? io.layer.pread(fd, buffer, 0).get()) ?? 0
        }
        let text = String(decoding: bytes.prefix(count), as: UTF8.self)
            .trimmingCharacters(in: [" ", "\n"])
        return text.isEmpty ? "pid unknown" : text
    }

    func release() async {
        releaseNow()
    }

    func releaseNow() {
        let held = fd.withLock { fd in
            defer { fd = nil }
            return fd
        }
        guard let held else { return }
        _ = io.layer.flock(held, LOCK_UN)
        io.close(held)
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
