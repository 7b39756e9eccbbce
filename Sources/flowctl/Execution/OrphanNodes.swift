import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The node processes a dead worker left behind.
///
/// A node's shell is a child of the worker running it; when the worker is killed with SIGKILL,
/// the shell lives on as an orphan. The worker that takes the workflow over must not run the
/// node beside it. So before a node's command is spawned, a token naming that one attempt is
/// written to `NODE.token` and passed in the command's environment (`FLOW_RUN_TOKEN`), which its
/// children inherit; the record is removed when the command ends. The taker finds every process
/// whose environment holds a recorded token (`/proc/PID/environ`), kills it with SIGKILL and
/// waits for it to be gone before running anything. Writing the record before the spawn leaves
/// no moment in which a process runs unrecorded.
enum OrphanNodes {
    /// The environment variable holding the token.
    static let variable = "FLOW_RUN_TOKEN"

    /// Records a new token for `node` in `directory` and returns it.
    static func record(node: String, in directory: String) -> String {
        let token = UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? Data((token + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/\(node).token"), options: .atomic)
        return token
    }

    /// Removes `node`'s record once its command ended.
    static func forget(node: String, in directory: String) {
        unlink("\(directory)/\(node).token")
    }

    /// Kills every process holding a token recorded in `directory` and waits (up to `limit`)
    /// until each is gone; the records are removed.
    static func stopAll(in directory: String, limit: Duration = .seconds(10)) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var tokens: Set<String> = []
        for name in names where name.hasSuffix(".token") {
            let path = "\(directory)/\(name)"
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !token.isEmpty { tokens.insert(token) }
            }
        }
        guard !tokens.isEmpty else { return }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let holders = processes(holding: tokens)
            if holders.isEmpty { break }
            for pid in holders { kill(pid, SIGKILL) }
            usleep(5_000)
        }
        for name in names where name.hasSuffix(".token") { unlink("\(directory)/\(name)") }
    }

    /// The live processes (zombies left out) whose environment holds one of `tokens`.
    private static func processes(holding tokens: Set<String>) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let wanted = Set(tokens.map { Array("\(variable)=\($0)".utf8) })
        var found: [pid_t] = []
        for entry in entries {
            guard let pid = pid_t(entry), pid > 1, pid != getpid(),
                let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ")
            else { continue }
            let matches = environ.split(separator: 0, omittingEmptySubsequences: true).contains { wanted.contains(Array($0)) }
            guard matches, !isZombie(pid) else { continue }
            found.append(pid)
        }
        return found
    }

    private static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex
        else { return true }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state == "Z" || state == "X"
    }
}
