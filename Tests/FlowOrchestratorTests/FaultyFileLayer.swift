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
        /// The next `count` fsyncs and fdatasyncs each block their thread (a stuck disk) until
        /// ``releaseHeldSyncs()``, or for `atMostMilliseconds`, before syncing.
        case holdSyncs(count: Int, atMostMilliseconds: Int)
    }

    private let real = SystemFileLayer()
    private let state = Mutex<(fault: Fault?, writes: Int, syncs: Int)>((nil, 0, 0))
    private let injected = Mutex(0)
    private let syncs = Mutex(0)

    /// Every `fsync` and `fdatasync` asked of this layer since it was made, faults or not.
    var syncCalls: Int { syncs.withLock { $0 } }

    func arm(_ fault: Fault?) { state.withLock { $0 = (fault, 0, 0) } }

    /// How many writes this layer has failed on purpose since it was made: a test asserts it is
    /// not zero, so that it cannot pass with writes that bypass the layer.
    var injectedWriteFaults: Int { injected.withLock { $0 } }

    /// Syncs held now, whether they were let go, and who waits for how many to be held.
    private let holds = Mutex<(now: Int, released: Bool, waiting: [(count: Int, waiter: CheckedContinuation<Void, Never>)])>(
        (0, false, []))

    /// The syncs blocked right now.
    var heldSyncs: Int { holds.withLock { $0.now } }

    /// Returns once `count` held syncs are blocked at the same time.
    func syncsHeld(_ count: Int) async {
        await withCheckedContinuation { waiter in
            let ready = holds.withLock { holds in
                if holds.now >= count { return true }
                holds.waiting.append((count, waiter))
                return false
            }
            if ready { waiter.resume() }
        }
    }

    /// Lets every held sync (and every later one) go on.
    func releaseHeldSyncs() { holds.withLock { $0.released = true } }

    /// Blocks the calling thread when a held sync is due.
    private func holdSync() {
        let limit: Int? = state.withLock { state in
            guard case .holdSyncs(let count, let milliseconds) = state.fault, state.syncs < count else { return nil }
            state.syncs += 1
            return milliseconds
        }
        guard let limit else { return }
        let due = holds.withLock { holds in
            holds.now += 1
            let due = holds.waiting.filter { $0.count <= holds.now }.map(\.waiter)
            holds.waiting.removeAll { $0.count <= holds.now }
            return due
        }
        for waiter in due { waiter.resume() }
        let deadline = ContinuousClock.now + .milliseconds(limit)
        while !holds.withLock({ $0.released }), ContinuousClock.now < deadline { usleep(1000) }
        holds.withLock { $0.now -= 1 }
    }

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
        syncs.withLock { $0 += 1 }
        holdSync()
        if let errno = syncFault() { return .failure(errno) }
        return real.fsync(fd)
    }

    func fdatasync(_ fd: Int32) -> Result<Void, Errno> {
        syncs.withLock { $0 += 1 }
        holdSync()
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
        // KEEP_TMP=1 keeps every test's directory, to look at what a failing test left.
        if getenv("KEEP_TMP") != nil { return }
        _ = try? FileIO(layer: SystemFileLayer()).removeTree(path)
    }
}
