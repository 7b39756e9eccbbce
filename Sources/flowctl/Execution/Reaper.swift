import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one thread that watches every running command: it drains stdout and stderr, notices
/// exits (through a pidfd where there is one), sends SIGKILL when a stop's grace period is over,
/// reaps the leader and hands each result to the task waiting for it.
///
/// One thread for all commands, started on first use and parked in `poll` while nothing runs:
/// a thread per command cost a thread start and exit (stack mapping, page faults) for every node,
/// which for short commands was more than flowctl's whole remaining per-node work.
final class Reaper: Sendable {
    /// The process's reaper, or why it could not be started.
    static let shared: Result<Reaper, CommandStartError> = {
        do throws(CommandStartError) { return .success(try Reaper()) } catch { return .failure(error) }
    }()

    private struct Inbox {
        var added: [(RunningProcess, CheckedContinuation<CommandResult, Never>)] = []
        var stopped: [pid_t] = []
        /// A wake byte is in the pipe and the thread has not taken the inbox since.
        var woken = false
    }

    private let inbox = Mutex(Inbox())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() throws(CommandStartError) {
        let wake = try CommandPipe.make()
        for fd in [wake.read, wake.write] { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        (wakeRead, wakeWrite) = wake
        let thread = Thread { [self] in loop() }
        thread.name = "flowctl-reaper"
        thread.start()
    }

    /// Watches `process` to its end, then resumes `continuation` with how it ended.
    func watch(_ process: RunningProcess, then continuation: CheckedContinuation<CommandResult, Never>) {
        post { $0.added.append((process, continuation)) }
    }

    /// Tells the thread that `pid` was sent SIGTERM, so that SIGKILL follows after its grace period.
    func stopRequested(_ pid: pid_t) {
        post { $0.stopped.append(pid) }
    }

    private func post(_ change: (inout Inbox) -> Void) {
        let wake = inbox.withLock { inbox in
            change(&inbox)
            defer { inbox.woken = true }
            return !inbox.woken
        }
        guard wake else { return }
        var byte: UInt8 = 1
        while write(wakeWrite, &byte, 1) < 0, errno == EINTR {}
    }

    // MARK: The thread

    private func loop() -> Never {
        let clock = ContinuousClock()
        var watches: [CommandWatch] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var fds: [pollfd] = []
        var owners: [Int] = []
        while true {
            // The pipe is drained before the inbox is taken: a byte written after this comes
            // with an item the next turn takes.
            while read(wakeRead, &buffer, buffer.count) > 0 {}
            let (added, stopped) = inbox.withLock { inbox in
                defer { inbox = Inbox() }
                return (inbox.added, inbox.stopped)
            }
            let now = clock.now
            for (process, continuation) in added {
                var watch = CommandWatch(process: process, continuation: continuation)
                if process.stopReason != nil { watch.stopRequested(now: now) }
                watches.append(watch)
            }
            for pid in stopped {
                if let index = watches.firstIndex(where: { $0.process.pid == pid }) {
                    watches[index].stopRequested(now: now)
                }
            }

            fds.removeAll(keepingCapacity: true)
            owners.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            owners.append(-1)
            var timeout: Int32 = -1
            for (index, watch) in watches.enumerated() {
                for fd in watch.descriptors {
                    fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                    owners.append(index)
                }
                if let wait = watch.wait(now: now, clock: clock) { timeout = timeout < 0 ? wait : min(timeout, wait) }
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0, errno != EINTR, errno != EAGAIN {
                // Nothing here can fix a failing poll; go on at a slow pace rather than spin.
                usleep(10_000)
            }

            let after = clock.now
            if ready > 0 {
                for (entry, owner) in zip(fds, owners) where entry.revents != 0 && owner >= 0 {
                    watches[owner].readable(entry.fd, buffer: &buffer, now: after)
                }
            }
            var index = 0
            while index < watches.count {
                if watches[index].advance(now: after, buffer: &buffer) {
                    let watch = watches.remove(at: index)
                    watch.finish()
                } else {
                    index += 1
                }
            }
        }
    }
}

/// What the reaper knows about one running command; used on the reaper's thread only.
private struct CommandWatch {
    let process: RunningProcess
    let continuation: CheckedContinuation<CommandResult, Never>
    var output = Data()
    var overflowed = false
    var errorTail = ErrorTail()
    var stdoutOpen = true
    var stderrOpen = true
    var exited = false
    var killAt: ContinuousClock.Instant?
    var abandonAt: ContinuousClock.Instant?
    /// After the shell's exit with its pipes still open: when its group gets SIGTERM unless
    /// whatever holds them has let go by then.
    var settleAt: ContinuousClock.Instant?
    /// The log is opened when the first stderr bytes arrive: quiet nodes leave no file.
    var logFD: Int32 = -1
    var logFailed: Bool

    init(process: RunningProcess, continuation: CheckedContinuation<CommandResult, Never>) {
        self.process = process
        self.continuation = continuation
        logFailed = process.spec.logPath == nil
    }

    /// The descriptors to poll.
    var descriptors: [Int32] {
        var fds: [Int32] = []
        if stdoutOpen { fds.append(process.stdoutFD) }
        if stderrOpen { fds.append(process.stderrFD) }
        if !exited, process.pidFD >= 0 { fds.append(process.pidFD) }
        return fds
    }

    /// Milliseconds until this command needs attention without any descriptor becoming ready.
    func wait(now: ContinuousClock.Instant, clock: ContinuousClock) -> Int32? {
        var wait: Int32?
        for deadline in [killAt, abandonAt, settleAt].compactMap({ $0 }) {
            let left = deadline - now
            let milliseconds = left <= .zero ? 0 : Int32(min(left.secondsValue * 1000, 60_000).rounded(.up))
            wait = min(wait ?? milliseconds, milliseconds)
        }
        // Without a pidfd the exit is only seen by asking.
        if !exited, process.pidFD < 0 { wait = min(wait ?? 5, 5) }
        return wait
    }

    /// SIGTERM went to the group: SIGKILL follows after the grace period.
    mutating func stopRequested(now: ContinuousClock.Instant) {
        if killAt == nil, abandonAt == nil { killAt = now + process.spec.killGrace }
    }

    /// Reads what `fd` has; returns whether there may be more to read at once (it gave bytes).
    @discardableResult
    mutating func readable(_ fd: Int32, buffer: inout [UInt8], now: ContinuousClock.Instant) -> Bool {
        if fd == process.stdoutFD {
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                if overflowed {
                    return true
                } else if output.count + count > process.spec.maxOutputBytes {
                    overflowed = true
                    if process.terminate(.outputTooLarge) { stopRequested(now: now) }
                } else {
                    output.append(contentsOf: buffer[0..<count])
                }
                return true
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                stdoutOpen = false
            }
        } else if fd == process.stderrFD {
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                if logFD < 0, !logFailed, let path = process.spec.logPath {
                    logFD = Self.openLog(path)
                    logFailed = logFD < 0
                    if logFD >= 0 { Self.writeAll(logFD, Array(process.spec.logHeader().utf8)) }
                }
                if logFD >= 0 { Self.writeAll(logFD, buffer[0..<count]) }
                errorTail.add(buffer[0..<count])
                return true
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                stderrOpen = false
            }
        } else if fd == process.pidFD {
            leaderExited(now: now, buffer: &buffer)
        }
        return false
    }

    /// The shell has exited. Its own ends of the pipes closed before its exit was reported, so
    /// once what it wrote is read, an open pipe means something it started still holds it: that
    /// is what the node would wait for, so its group gets SIGTERM (and SIGKILL after the grace
    /// period; a holder outside the group is given up on after that). When nothing holds the
    /// pipes, the group is left alone: a process started with its output redirected (a daemon,
    /// `setsid cmd >/dev/null 2>&1 </dev/null &`) keeps running, even if it has not yet left the
    /// group when the shell exits. Such a process holds the pipes from its fork until its
    /// redirections, a moment: the group is signalled only if they are still held a settling
    /// time after the shell's exit.
    private mutating func leaderExited(now: ContinuousClock.Instant, buffer: inout [UInt8]) {
        exited = true
        // Bounded: a holder that writes as fast as this reads counts as holding the pipe.
        var reads = 0
        while stdoutOpen, reads < 256, readable(process.stdoutFD, buffer: &buffer, now: now) { reads += 1 }
        reads = 0
        while stderrOpen, reads < 256, readable(process.stderrFD, buffer: &buffer, now: now) { reads += 1 }
        guard stdoutOpen || stderrOpen else { return }
        if killAt == nil, abandonAt == nil { settleAt = now + Self.settling }
    }

    /// How long the pipes may stay held after the shell's exit before its group is signalled.
    static let settling = Duration.milliseconds(250)

    /// Moves the command on by the clock; returns whether it is done.
    mutating func advance(now: ContinuousClock.Instant, buffer: inout [UInt8]) -> Bool {
        if !exited, process.pidFD < 0, process.hasExited() { leaderExited(now: now, buffer: &buffer) }
        if let deadline = settleAt, now >= deadline {
            settleAt = nil
            if stdoutOpen || stderrOpen {
                process.signalGroup(SIGTERM)
                if killAt == nil, abandonAt == nil { killAt = now + process.spec.killGrace }
            }
        }
        if let deadline = killAt, now >= deadline {
            process.signalGroup(SIGKILL)
            killAt = nil
            abandonAt = now + .seconds(2)
        }
        if !stdoutOpen, !stderrOpen, exited { return true }
        // Something outside the group (it called setsid) may hold the pipes forever.
        if let deadline = abandonAt, now >= deadline, exited { return true }
        return false
    }

    /// Reaps the leader, closes the descriptors and hands the result over.
    func finish() {
        if logFD >= 0 { close(logFD) }
        let (ending, stopReason) = process.reap()
        continuation.resume(
            returning: CommandResult(
                ending: ending, output: output, stopReason: overflowed ? .outputTooLarge : stopReason,
                lastErrorLine: errorTail.lastLine))
    }

    /// Opens `path` for appending, creating its directory when needed.
    private static func openLog(_ path: String) -> Int32 {
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC
        let fd = open(path, flags, 0o644)
        guard fd < 0, errno == ENOENT else { return fd }
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return open(path, flags, 0o644)
    }

    private static func writeAll<C: Collection<UInt8>>(_ fd: Int32, _ bytes: C) {
        var bytes = Array(bytes)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

/// The last non-empty line of a stream, read in pieces.
private struct ErrorTail {
    private var current: [UInt8] = []
    private var last: [UInt8] = []

    mutating func add(_ bytes: ArraySlice<UInt8>) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if current.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != 9 }) {
                    last = current
                }
                current.removeAll(keepingCapacity: true)
            } else if current.count < 1000 {
                current.append(byte)
            }
        }
    }

    var lastLine: String? {
        let pending = current.contains { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != 9 }
        let bytes = pending ? current : last
        guard !bytes.isEmpty else { return nil }
        return TextFormat.oneLine(String(decoding: bytes, as: UTF8.self).trimmingSpaces().description, limit: 300)
    }
}
