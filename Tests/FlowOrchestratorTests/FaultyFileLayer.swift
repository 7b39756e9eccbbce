import Glibc
import Synchronization

@testable import FlowOrchestrator

/// The real file layer with faults injected on demand: fail the Nth write with an errno, write
/// short, fail fsync. Counts start when a fault is armed.
final class FaultyFileLayer: FileLayer {
    enum Fault: Sendable {
        /// Writes after the first `after` fail with `errno`.
        case failWrites(after: Int, errno: Int32)
        /// Every write writes at most `bytes` bytes (legal for the kernel; callers must loop).
        case shortWrites(bytes: Int)
        /// fsync and fdatasync fail with EIO after the first `after`.
        case failSyncs(after: Int)
        /// unlink and rmdir fail with EIO after the first `after`.
        case failRemovals(after: Int)
    }

    private let real = SystemFileLayer()
    private let state = Mutex<(fault: Fault?, writes: Int, syncs: Int)>((nil, 0, 0))
    private let injected = Mutex(0)

    func arm(_ fault: Fault?) { state.withLock { $0 = (fault, 0, 0) } }

    /// How many writes this layer has failed on purpose since it was made: a test asserts it is
    /// not zero, so that it cannot pass with writes that bypass the layer.
    var injectedWriteFaults: Int { injected.withLock { $0 } }

    private func writeFault(_ count: Int) -> (Errno?, Int) {
        state.withLock { state in
            switch state.fault {
            case .failWrites(let after, let errno):
                state.writes += 1
                guard state.writes > after else { return (nil, count) }
                injected.withLock { $0 += 1 }
                return (Errno(code: errno), count)
            case .shortWrites(let bytes):
                return (nil, min(count, bytes))
            default:
                return (nil, count)
            }
        }
    }

    private func syncFault() -> Errno? {
        state.withLock { state in
            guard case .failSyncs(let after) = state.fault else { return nil }
            state.syncs += 1
            return state.syncs > after ? .io : nil
        }
    }

    func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        let (errno, count) = writeFault(buffer.count)
        if let errno { return .failure(errno) }
        return real.write(fd, UnsafeRawBufferPointer(rebasing: buffer[..<count]))
    }

    func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        let (errno, count) = writeFault(buffer.count)
        if let errno { return .failure(errno) }
        return real.pwrite(fd, UnsafeRawBufferPointer(rebasing: buffer[..<count]), offset)
    }

    func fsync(_ fd: Int32) -> Result<Void, Errno> {
        if let errno = syncFault() { return .failure(errno) }
        return real.fsync(fd)
    }

    func fdatasync(_ fd: Int32) -> Result<Void, Errno> {
        if let errno = syncFault() { return .failure(errno) }
        return real.fdatasync(fd)
    }

    func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Result<Int32, Errno> { real.open(path, flags, mode) }
    func close(_ fd: Int32) -> Result<Void, Errno> { real.close(fd) }
    func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { real.read(fd, buffer) }
    func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) -> Result<Int, Errno> {
        real.pread(fd, buffer, offset)
    }
    func ftruncate(_ fd: Int32, _ length: Int64) -> Result<Void, Errno> { real.ftruncate(fd, length) }
    func fileSize(_ fd: Int32) -> Result<Int64, Errno> { real.fileSize(fd) }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> { real.rename(from, to) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { real.link(from, to) }
    private func removalFault() -> Errno? {
        state.withLock { state in
            guard case .failRemovals(let after) = state.fault else { return nil }
            state.writes += 1
            return state.writes > after ? .io : nil
        }
    }

    func unlink(_ path: String) -> Result<Void, Errno> {
        if let errno = removalFault() { return .failure(errno) }
        return real.unlink(path)
    }
    func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> { real.mkdir(path, mode) }
    func rmdir(_ path: String) -> Result<Void, Errno> {
        if let errno = removalFault() { return .failure(errno) }
        return real.rmdir(path)
    }
    func flock(_ fd: Int32, _ operation: Int32) -> Result<Void, Errno> { real.flock(fd, operation) }
    func listDirectory(_ path: String) -> Result<[String], Errno> { real.listDirectory(path) }
    func isDirectory(_ path: String) -> Bool { real.isDirectory(path) }
}

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/flow-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: made!)
    }

    func cleanup() {
        _ = try? FileIO(layer: SystemFileLayer()).removeTree(path)
    }
}
