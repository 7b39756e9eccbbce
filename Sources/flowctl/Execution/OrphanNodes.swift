import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The node processes a dead worker left behind.
///
/// A node's shell is a child of the worker running it; when the worker is killed with SIGKILL,
/// the shell lives on as an orphan. The worker that takes the workflow over must not run the
/// node beside it, so each running node's process group is recorded in `NODE.pgid` (its pid and
/// its start time in clock ticks since boot, from `/proc/PID/stat`, so that a reused pid is never
/// mistaken for it) and the taker stops every recorded group still alive (SIGKILL) and waits for
/// it to be gone before running anything.
enum OrphanNodes {
    /// Records `pid` as the process group of `node`'s running command.
    static func record(_ pid: pid_t, node: String, in directory: String) {
        guard let start = startTime(pid) else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(node).pgid"
        try? Data("\(pid) \(start)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Removes `node`'s record once its command ended.
    static func forget(node: String, in directory: String) {
        unlink("\(directory)/\(node).pgid")
    }

    /// Kills every recorded process group in `directory` that is still alive and waits (up to
    /// `limit`) until each is gone; the records are removed.
    static func stopAll(in directory: String, limit: Duration = .seconds(10)) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".pgid") {
            let path = "\(directory)/\(name)"
            defer { unlink(path) }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard parts.count >= 2, let pid = pid_t(parts[0]), pid > 1, let start = UInt64(parts[1]),
                startTime(pid) == start
            else { continue }
            kill(-pid, SIGKILL)
            let deadline = ContinuousClock.now + limit
            while kill(-pid, 0) == 0 || errno != ESRCH, ContinuousClock.now < deadline {
                usleep(5_000)
            }
        }
    }

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
    private static func startTime(_ pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (the state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}
