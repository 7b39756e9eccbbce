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
    /// A line written to the log before the command's stderr (made only when there is some).
    var logHeader: @Sendable () -> String = { "" }
    /// The most stdout bytes kept; more stops the command.
    var maxOutputBytes: Int
    /// How long the process group gets between SIGTERM and SIGKILL.
    var killGrace: Duration
    /// Called with the shell's pid (its process group) once it is started.
    var onStart: (@Sendable (pid_t) -> Void)? = nil
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
/// closed. One thread for all commands (``Reaper``) drains stdout and stderr and notices the exit
/// (through a pidfd where there is one). Stopping sends SIGTERM to the whole group, then SIGKILL
/// after a grace period. When the shell exits, anything it left holding the node's stdout or
/// stderr (which the node would otherwise wait for) gets SIGTERM with its group; a process whose
/// output went elsewhere is left running, as a daemon would be. The leader is reaped only after every signal has been sent,
/// so its ID can never name another process group when one is.
enum ChildProcess {
    /// Runs `spec` to its end. Cancelling the calling task stops the command; the result then
    /// says `.cancelled`. Throws only when the command cannot be started.
    static func run(_ spec: CommandSpec) async throws -> CommandResult {
        try Task.checkCancellation()
        let reaper = try Reaper.shared.get()
        let process = try RunningProcess.start(spec)
        spec.onStart?(process.pid)
        LiveProcesses.add(process)
        defer { LiveProcesses.remove(process) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                reaper.watch(process, then: continuation)
            }
        } onCancel: {
            process.stop(.cancelled)
        }
    }
}

/// The processes flowctl is running, so that a second interrupt can kill them all at once.
enum LiveProcesses {
    private static let processes = Mutex<[pid_t: RunningProcess]>([:])
    private static let killing = Atomic<Bool>(false)

    /// Set by ``killAll()``: every stop from then on is SIGKILL at once, with no grace period.
    static var killsAtOnce: Bool { killing.load(ordering: .relaxed) }

    static func add(_ process: RunningProcess) {
        processes.withLock { $0[process.pid] = process }
    }

    static func remove(_ process: RunningProcess) {
        _ = processes.withLock { $0.removeValue(forKey: process.pid) }
    }

    /// Waits until no command is running (each ends by itself or by its stop's SIGKILL); past
    /// `limit`, the groups left get SIGKILL at once.
    static func waitUntilGone(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !processes.withLock({ $0.isEmpty }) {
            guard ContinuousClock.now < deadline else {
                killAll()
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends SIGKILL to every running command's process group, and to those stopped later.
    static func killAll() {
        killing.store(true, ordering: .relaxed)
        for process in processes.withLock({ Array($0.values) }) { process.signalGroup(SIGKILL) }
    }
}

/// One started command: its process ID (also its process group ID) and the pipes from it. The
/// descriptors belong to the ``Reaper`` once the command is handed to it.
final class RunningProcess: Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32
    /// A descriptor that polls readable when the leader exits; -1 where there is none.
    let pidFD: Int32
    let spec: CommandSpec

    private struct Control {
        var reaped = false
        var stopReason: StopReason?
    }

    private let control = Mutex(Control())

    private init(pid: pid_t, stdoutFD: Int32, stderrFD: Int32, spec: CommandSpec) {
        self.pid = pid
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
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
            let out = try CommandPipe.make()
            opened += [out.read, out.write]
            let err = try CommandPipe.make()
            opened += [err.read, err.write]
            // Only flowctl's ends are non-blocking: the command gets ordinary blocking pipes.
            for fd in [out.read, err.read] { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
            let pid = try spawn(spec, stdout: out.write, stderr: err.write)
            close(out.write)
            close(err.write)
            return RunningProcess(pid: pid, stdoutFD: out.read, stderrFD: err.read, spec: spec)
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
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
        guard terminate(reason) else { return }
        if case .success(let reaper) = Reaper.shared { reaper.stopRequested(pid) }
    }

    /// Records why the command is stopped and sends SIGTERM to its group; false when the leader
    /// is reaped already. The caller sees to the SIGKILL that follows.
    func terminate(_ reason: StopReason) -> Bool {
        control.withLock { control in
            guard !control.reaped else { return false }
            if control.stopReason == nil { control.stopReason = reason }
            _ = killpg(pid, LiveProcesses.killsAtOnce ? SIGKILL : SIGTERM)
            return true
        }
    }

    /// Why flowctl stopped the command, if it did.
    var stopReason: StopReason? { control.withLock { $0.stopReason } }

    /// Sends `signal` to the command's process group unless the leader has been reaped.
    func signalGroup(_ signal: Int32) {
        control.withLock { control in
            guard !control.reaped else { return }
            _ = killpg(pid, signal)
        }
    }

    // MARK: Ending

    /// Whether the leader has exited, without reaping it (for C libraries without pidfds).
    func hasExited() -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        #if canImport(Glibc)
        return info._sifields._sigchld.si_pid != 0
        #else
        return info.si_pid != 0
        #endif
    }

    /// Reaps the leader (waiting for it if it has not exited) and closes the descriptors; no
    /// signal is sent to the group after this. Returns how the leader ended and why flowctl
    /// stopped it, if it did.
    func reap() -> (CommandResult.Ending, StopReason?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let stopReason = control.withLock { control in
            control.reaped = true
            return control.stopReason
        }
        for fd in [stdoutFD, stderrFD, pidFD] where fd >= 0 { close(fd) }
        let ending: CommandResult.Ending =
            if let signal = WaitStatus.signal(status) { .signalled(signal) } else { .exited(WaitStatus.exitCode(status) ?? -1) }
        return (ending, stopReason)
    }
}

/// Pipes with both ends closed on exec.
enum CommandPipe {
    static func make() throws(CommandStartError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let pipe2 = PosixCalls.pipe2 {
            guard pipe2(&fds, O_CLOEXEC) == 0 else {
                throw CommandStartError("cannot create a pipe: \(SystemError.text(errno))")
            }
        } else {
            guard pipe(&fds) == 0 else { throw CommandStartError("cannot create a pipe: \(SystemError.text(errno))") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        return (fds[0], fds[1])
    }
}

/// A command could not be started.
struct CommandStartError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Calls `body` with `strings` as a NULL-terminated array of C strings, all in one allocation
/// (a node's environment is some 50 strings, copied for every spawn).
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let size = strings.reduce(0) { $0 + $1.utf8.count + 1 }
    let storage = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
    defer { storage.deallocate() }
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    pointers.reserveCapacity(strings.count + 1)
    var offset = 0
    for var string in strings {
        let start = storage + offset
        let count = string.withUTF8 { bytes in
            if let base = bytes.baseAddress { UnsafeMutableRawPointer(start).copyMemory(from: base, byteCount: bytes.count) }
            return bytes.count
        }
        start[count] = 0
        pointers.append(start)
        offset += count + 1
    }
    pointers.append(nil)
    return body(pointers)
}
