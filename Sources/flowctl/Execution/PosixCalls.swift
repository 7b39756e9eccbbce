#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// C calls that Swift's `Glibc` module does not import (they sit behind `_GNU_SOURCE`), looked
/// up once by name so that no C target is needed. Each is nil where the C library lacks it.
enum PosixCalls {
    typealias FileActionsPointer = UnsafeMutablePointer<posix_spawn_file_actions_t>

    /// `posix_spawn_file_actions_addclosefrom_np(actions, from)` (glibc 2.34).
    static let addCloseFrom: (@convention(c) (FileActionsPointer, Int32) -> Int32)? =
        symbol("posix_spawn_file_actions_addclosefrom_np")

    /// `posix_spawn_file_actions_addchdir_np(actions, path)` (glibc 2.29, macOS 10.15).
    static let addChdir: (@convention(c) (FileActionsPointer, UnsafePointer<CChar>) -> Int32)? =
        symbol("posix_spawn_file_actions_addchdir_np")

    /// `pidfd_open(pid, flags)` (glibc 2.36, Linux 5.3): a descriptor that polls readable when the
    /// process exits, so exits are seen without reaping or polling on a timer.
    static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = symbol("pidfd_open")

    /// `pipe2(fds, flags)` (glibc 2.9): a pipe made close-on-exec in the same call.
    static let pipe2: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32)? = symbol("pipe2")

    private static func symbol<T>(_ name: String) -> T? {
        #if canImport(Darwin)
        let handle = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #else
        let handle: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT
        #endif
        guard let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// Decoding of `waitpid` statuses (`WIFEXITED` and friends are macros Swift cannot call).
enum WaitStatus {
    /// The exit code when the process exited normally.
    static func exitCode(_ status: Int32) -> Int32? {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
    }

    /// The signal that ended the process, when one did.
    static func signal(_ status: Int32) -> Int32? {
        let signal = status & 0x7F
        return signal != 0 && signal != 0x7F ? signal : nil
    }
}

/// Signal names for messages.
enum SignalName {
    static func of(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGBUS: "SIGBUS"
        default: "signal \(signal)"
        }
    }
}
