import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One shell command to run as a node attempt.
struct CommandSpec: Sendable {
    /// Run with `/bin/sh -c`.
    var command: String
    /// The whole environment, as `NAME=value` strings.
    var environment: [String]
    /// The working directory; nil for flowctl's own.
    var directory: String?
    /// Where stderr is appended; nil to discard it (its last line is kept either way).
    var logPath: String?
    /// A line written to the log before the command's stderr.
    var logHeader: String = ""
    /// The most stdout bytes kept; more stops the command.
    var maxOutputBytes: Int
    /// How long the process group gets between SIGTERM and SIGKILL.
    var killGrace: Duration
}

/// How one command ended.
struct CommandResult: Sendable {
    enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// How the shell process ended.
    var ending: Ending
    /// Its stdout, up to the limit.
    var output: Data
    /// Why flowctl stopped the command, if it did.
    var stopReason: StopReason?
    /// The last non-empty line the command wrote to stderr.
    var lastErrorLine: String?
}

/// Why flowctl stopped a command before it ended by itself.
enum StopReason: Sendable, Equatable {
    /// The task running it was cancelled (timeout, fail-fast, SIGINT).
    case cancelled
    /// It wrote more than the output limit to stdout.
    case outputTooLarge
}

/// Runs shell commands as process-group leaders and watches them to the end.
///
/// Each command is started with `posix_spawn` as the leader of a new process group, with default
/// signal handling, an empty signal mask, stdin from `/dev/null` and every other descriptor
/// closed. A thread per command drains stdout and stderr and notices the exit (through a pidfd
/// where there is one). Stopping sends SIGTERM to the whole group, then SIGKILL after a grace
/// period. When the shell exits, anything it left in its group gets SIGTERM too, so no node leaves
/// processes behind. The leader is reaped only after every signal has been sent, so its ID can
/// never name another process group when one is.
enum ChildProcess {
    /// Runs `spec` to its end. Cancelling the calling task stops the command; the result then
    /// says `.cancelled`. Throws only when the command cannot be started.
    static func run(_ spec: CommandSpec) async throws -> CommandResult {
        try Task.checkCancellation()
        let process = try RunningProcess.start(spec)
        LiveProcesses.add(process)
        defer { LiveProcesses.remove(process) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread { continuation.resume(returning: process.watch()) }
                thread.name = "flowctl-node-\(process.pid)"
                thread.start()
            }
        } onCancel: {
            process.stop(.cancelled)
        }
    }
}

/// The processes flowctl is running, so that a second interrupt can kill them all at once.
enum LiveProcesses {
    private static let processes = Mutex<[pid_t: RunningProcess]>([:])

    static func add(_ process: RunningProcess) {
        processes.withLock { $0[process.pid] = process }
    }

    static func remove(_ process: RunningProcess) {
        _ = processes.withLock { $0.removeValue(forKey: process.pid) }
    }

    /// Sends SIGKILL to every running command's process group.
    static func killAll() {
        for process in processes.withLock({ Array($0.values) }) { process.signalGroup(SIGKILL) }
    }
}

/// One started command: its process ID (also its process group ID) and the pipes to it.
final class RunningProcess: Sendable {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let pidFD: Int32
    private let spec: CommandSpec

    private struct Control {
        var reaped = false
        var stopReason: StopReason?
    }

    private let control = Mutex(Control())

    private init(
        pid: pid_t, stdoutFD: Int32, stderrFD: Int32, wake: (Int32, Int32), spec: CommandSpec
    ) {
        self.pid = pid
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        (wakeRead, wakeWrite) = wake
        self.spec = spec
        // Opened before anything can reap the child, so it refers to this process.
        self.pidFD = PosixCalls.pidfdOpen?(pid, 0) ?? -1
    }

    // MARK: Starting

    /// Spawns `/bin/sh -c COMMAND` as the leader of a new process group.
    static func start(_ spec: CommandSpec) throws -> RunningProcess {
        if let directory = spec.directory {
            var info = stat()
            guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw CommandStartError("working directory \(TextFormat.quoted(directory)) does not exist")
            }
        }
        var opened: [Int32] = []
        do {
            let out = try makePipe()
            opened += [out.read, out.write]
            let err = try makePipe()
            opened += [err.read, err.write]
            let wake = try makePipe()
            opened += [wake.read, wake.write]
            for fd in [out.read, err.read, wake.read, wake.write] {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
            let pid = try spawn(spec, stdout: out.write, stderr: err.write)
            close(out.write)
            close(err.write)
            return RunningProcess(
                pid: pid, stdoutFD: out.read, stderrFD: err.read, wake: (wake.read, wake.write), spec: spec)
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CommandStartError("cannot create a pipe: \(SystemError.text(errno))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func spawn(_ spec: CommandSpec, stdout: Int32, stderr: Int32) throws -> pid_t {
        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #else
        var actions: posix_spawn_file_actions_t?
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var flags = Int32(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        #if canImport(Glibc)
        // Descriptors flowctl or its libraries opened without close-on-exec (a store's lock file)
        // must not reach a node: an orphaned node would keep the lock after a crash.
        guard let addCloseFrom = PosixCalls.addCloseFrom else {
            throw CommandStartError("this C library lacks posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or newer is needed)")
        }
        _ = addCloseFrom(&actions, 3)
        #else
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        if let directory = spec.directory {
            guard let addChdir = PosixCalls.addChdir else {
                throw CommandStartError("this C library cannot set a working directory for a spawned process")
            }
            _ = directory.withCString { addChdir(&actions, $0) }
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        let arguments = ["/bin/sh", "-c", spec.command]
        var pid = pid_t()
        let result = withCStringArray(arguments) { argv in
            withCStringArray(spec.environment) { envp in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
            }
        }
        guard result == 0 else {
            throw CommandStartError("cannot start /bin/sh: \(SystemError.text(result))")
        }
        return pid
    }

    // MARK: Stopping

    /// Stops the command: SIGTERM to its group now, SIGKILL after the grace period.
    func stop(_ reason: StopReason) {
        control.withLock { control in
            guard !control.reaped else { return }
            if control.stopReason == nil { control.stopReason = reason }
            _ = killpg(pid, SIGTERM)
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Sends `signal` to the command's process group unless the leader has been reaped.
    func signalGroup(_ signal: Int32) {
        control.withLock { control in
            guard !control.reaped else { return }
            _ = killpg(pid, signal)
        }
    }

    // MARK: Watching

    /// Drains the pipes until the command and its group are done, then reaps the leader.
    /// Runs on a thread of its own: it blocks in `poll`.
    func watch() -> CommandResult {
        let clock = ContinuousClock()
        var output = Data()
        var overflowed = false
        var errorTail = ErrorTail()
        var stdoutOpen = true
        var stderrOpen = true
        var exited = false
        var killAt: ContinuousClock.Instant?
        var abandonAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        // The log is opened when the first stderr bytes arrive: quiet nodes leave no file.
        var logFD: Int32 = -1
        var logFailed = spec.logPath == nil

        func leaderExited() {
            exited = true
            // Whatever the shell left in its group goes too; wait for it only if it holds the pipes.
            signalGroup(SIGTERM)
            if (stdoutOpen || stderrOpen), killAt == nil, abandonAt == nil { killAt = clock.now + spec.killGrace }
        }

        while stdoutOpen || stderrOpen || !exited {
            var fds: [pollfd] = []
            if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if !exited, pidFD >= 0 { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
            fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            var timeout: Int32 = -1
            for deadline in [killAt, abandonAt].compactMap({ $0 }) {
                let wait = Self.milliseconds(until: deadline, clock: clock)
                timeout = timeout < 0 ? wait : min(timeout, wait)
            }
            if !exited, pidFD < 0 { timeout = timeout < 0 ? 5 : min(timeout, 5) }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0, errno != EINTR { break }

            for entry in fds where entry.revents != 0 {
                switch entry.fd {
                case stdoutFD:
                    let count = read(stdoutFD, &buffer, buffer.count)
                    if count > 0 {
                        if overflowed {
                            break
                        } else if output.count + count > spec.maxOutputBytes {
                            overflowed = true
                            stop(.outputTooLarge)
                        } else {
                            output.append(contentsOf: buffer[0..<count])
                        }
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        stdoutOpen = false
                    }
                case stderrFD:
                    let count = read(stderrFD, &buffer, buffer.count)
                    if count > 0 {
                        if logFD < 0, !logFailed, let path = spec.logPath {
                            logFD = Self.openLog(path)
                            logFailed = logFD < 0
                            if logFD >= 0 { Self.writeAll(logFD, Array(spec.logHeader.utf8)) }
                        }
                        if logFD >= 0 { Self.writeAll(logFD, buffer[0..<count]) }
                        errorTail.add(buffer[0..<count])
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        stderrOpen = false
                    }
                case pidFD:
                    leaderExited()
                case wakeRead:
                    while read(wakeRead, &buffer, buffer.count) > 0 {}
                    if killAt == nil, abandonAt == nil { killAt = clock.now + spec.killGrace }
                default:
                    break
                }
            }
            if !exited, pidFD < 0, Self.hasExited(pid) { leaderExited() }
            let now = clock.now
            if let deadline = killAt, now >= deadline {
                signalGroup(SIGKILL)
                killAt = nil
                abandonAt = now + .seconds(2)
            }
            // Something outside the group (it called setsid) may hold the pipes forever.
            if let deadline = abandonAt, now >= deadline, exited { break }
        }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let stopReason = control.withLock { control in
            control.reaped = true
            return control.stopReason
        }
        for fd in [stdoutFD, stderrFD, wakeRead, wakeWrite, pidFD, logFD] where fd >= 0 { close(fd) }
        let ending: CommandResult.Ending =
            if let signal = WaitStatus.signal(status) { .signalled(signal) } else { .exited(WaitStatus.exitCode(status) ?? -1) }
        return CommandResult(
            ending: ending, output: output, stopReason: overflowed ? .outputTooLarge : stopReason,
            lastErrorLine: errorTail.lastLine)
    }

    // MARK: Helpers

    private static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int32 {
        let left = deadline - clock.now
        if left <= .zero { return 0 }
        return Int32(min(left.secondsValue * 1000, 60_000).rounded(.up))
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

    /// Whether `pid` has exited, without reaping it.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        #if canImport(Glibc)
        return info._sifields._sigchld.si_pid != 0
        #else
        return info.si_pid != 0
        #endif
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

/// A command could not be started.
struct CommandStartError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Calls `body` with `strings` as a NULL-terminated array of C strings.
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers + [nil])
}
