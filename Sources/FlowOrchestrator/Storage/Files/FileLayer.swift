#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An errno value from a failed system call.
struct Errno: Error, Equatable, CustomStringConvertible {
    var code: Int32

    static let interrupted = Errno(code: EINTR)
    static let noSpace = Errno(code: ENOSPC)
    static let io = Errno(code: EIO)
    static let wouldBlock = Errno(code: EWOULDBLOCK)
    static let notFound = Errno(code: ENOENT)
    static let exists = Errno(code: EEXIST)

    /// The current thread's errno.
    static var current: Errno { Errno(code: errno) }

    var description: String {
        let text = strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "\(text) (errno \(code))"
    }
}

/// The system calls the file stores make, behind a protocol so that tests can fail the Nth
/// write, write short, fill the disk or fail an fsync.
///
/// Every call returns a `Result` instead of throwing; `EINTR` is retried in one place
/// (``FileIO``), never here.
protocol FileLayer: Sendable {
    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Result<Int32, Errno>
    func close(_ fd: Int32) -> Result<Void, Errno>
    func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno>
    func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int64) -> Result<Int, Errno>
    func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno>
    func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) -> Result<Int, Errno>
    func fsync(_ fd: Int32) -> Result<Void, Errno>
    func fdatasync(_ fd: Int32) -> Result<Void, Errno>
    func ftruncate(_ fd: Int32, _ length: Int64) -> Result<Void, Errno>
    func fileSize(_ fd: Int32) -> Result<Int64, Errno>
    func rename(_ from: String, _ to: String) -> Result<Void, Errno>
    func link(_ from: String, _ to: String) -> Result<Void, Errno>
    func unlink(_ path: String) -> Result<Void, Errno>
    func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno>
    func rmdir(_ path: String) -> Result<Void, Errno>
    func flock(_ fd: Int32, _ operation: Int32) -> Result<Void, Errno>
    func listDirectory(_ path: String) -> Result<[String], Errno>
    func isDirectory(_ path: String) -> Bool
}

extension FileLayer {
    /// How many names the open file `fd` has: 0 once it was unlinked (its directory deleted)
    /// while open. A layer that does not say otherwise asks the system.
    func linkCount(_ fd: Int32) -> Result<Int, Errno> {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(.current) }
        return .success(Int(info.st_nlink))
    }
}

/// The real system calls.
struct SystemFileLayer: FileLayer {
    private static func check(_ result: Int32) -> Result<Void, Errno> {
        result == 0 ? .success(()) : .failure(.current)
    }

    private static func count(_ result: Int) -> Result<Int, Errno> {
        result >= 0 ? .success(result) : .failure(.current)
    }

    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Result<Int32, Errno> {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        return fd >= 0 ? .success(fd) : .failure(.current)
    }

    func close(_ fd: Int32) -> Result<Void, Errno> { Self.check(Glibc.close(fd)) }

    func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        Self.count(Glibc.write(fd, buffer.baseAddress, buffer.count))
    }

    func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        Self.count(Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)))
    }

    func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        Self.count(Glibc.read(fd, buffer.baseAddress, buffer.count))
    }

    func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        Self.count(Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)))
    }

    func fsync(_ fd: Int32) -> Result<Void, Errno> { Self.check(Glibc.fsync(fd)) }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { Self.check(Glibc.fdatasync(fd)) }
    func ftruncate(_ fd: Int32, _ length: Int64) -> Result<Void, Errno> {
        Self.check(Glibc.ftruncate(fd, off_t(length)))
    }

    func fileSize(_ fd: Int32) -> Result<Int64, Errno> {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(.current) }
        return .success(Int64(info.st_size))
    }

    func rename(_ from: String, _ to: String) -> Result<Void, Errno> { Self.check(Glibc.rename(from, to)) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { Self.check(Glibc.link(from, to)) }
    func unlink(_ path: String) -> Result<Void, Errno> { Self.check(Glibc.unlink(path)) }
    func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> { Self.check(Glibc.mkdir(path, mode)) }
    func rmdir(_ path: String) -> Result<Void, Errno> { Self.check(Glibc.rmdir(path)) }
    func flock(_ fd: Int32, _ operation: Int32) -> Result<Void, Errno> { Self.check(systemFlock(fd, operation)) }

    func listDirectory(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(.current) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

/// `flock(2)`; Swift sees `Glibc.flock` as the `struct flock` of fcntl, so it is bound by name.
@_silgen_name("flock")
private func systemFlock(_ fd: Int32, _ operation: Int32) -> Int32
