import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `flowctl` binary: found next to the test bundle (`swift test` builds every product
/// into the same directory), or built with `swift build --product flowctl` when it is missing.
enum FlowCtlBinary {
    static let path: String = locate()

    private static func locate() -> String {
        let testExecutable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testExecutable).deletingLastPathComponent()
        var searched: [URL] = []
        for _ in 0..<4 {
            searched.append(directory)
            directory = directory.deletingLastPathComponent()
        }
        if let found = find(in: searched) { return found }
        // Not built yet: build it into the scratch directory the tests run from.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var arguments = ["swift", "build", "--product", "flowctl"]
        if let scratch = searched.first?.deletingLastPathComponent().deletingLastPathComponent(),
            FileManager.default.fileExists(atPath: scratch.appendingPathComponent("checkouts").path)
        {
            arguments += ["--scratch-path", scratch.path]
        }
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = arguments
        build.currentDirectoryURL = packageRoot
        try? build.run()
        build.waitUntilExit()
        return find(in: searched) ?? packageRoot.appendingPathComponent(".build/debug/flowctl").path
    }

    private static func find(in directories: [URL]) -> String? {
        directories.map { $0.appendingPathComponent("flowctl").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// How one flowctl invocation ended.
struct CLIOutcome: CustomStringConvertible {
    /// The exit code, or 128 + the signal for a process killed by one.
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// A temporary directory holding a store, definition files and marker files; removed at the end.
final class Sandbox {
    let root: URL

    init() throws {
        let base = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        var template = Array((base + "/flowctl-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        root = URL(fileURLWithPath: String(cString: made))
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// The store every command of this sandbox uses (passed through `FLOW_STORE`).
    var store: String { path("store") }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// The lines of `name`, empty when it does not exist.
    func lines(_ name: String) -> [String] {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// Starts `flowctl ARGUMENTS` in the sandbox with stdout and stderr going to files.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> RunningCLI {
        try RunningCLI(arguments: arguments, sandbox: self, environment: environment)
    }

    /// Runs `flowctl ARGUMENTS` to its end.
    func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)
    ) async throws -> CLIOutcome {
        try await start(arguments, environment: environment).wait(timeout: timeout)
    }

    /// `flowctl show ID` decoded.
    func show(_ id: String) async throws -> [String: Any] {
        let outcome = try await run(["show", id])
        try #require(outcome.status == 0, "\(outcome)")
        return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
    }

    /// The `nodes` of `show ID`, by name.
    func nodes(_ id: String) async throws -> [String: [String: Any]] {
        let nodes = try #require(try await show(id)["nodes"] as? [[String: Any]])
        var byName: [String: [String: Any]] = [:]
        for node in nodes { byName[node["name"] as? String ?? ""] = node }
        return byName
    }
}

/// A flowctl process started by a test.
final class RunningCLI {
    let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    fileprivate init(arguments: [String], sandbox: Sandbox, environment extra: [String: String]) throws {
        let tag = UUID().uuidString
        stdoutPath = sandbox.path("out-\(tag)")
        stderrPath = sandbox.path("err-\(tag)")
        for path in [stdoutPath, stderrPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        }
        process.executableURL = URL(fileURLWithPath: FlowCtlBinary.path)
        process.arguments = arguments
        process.currentDirectoryURL = sandbox.root
        var environment = ProcessInfo.processInfo.environment
        environment["FLOW_STORE"] = sandbox.store
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }

    func signal(_ number: Int32) { kill(pid, number) }

    /// What the process has written to stderr so far.
    var stderrSoFar: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// What the process has written to stdout so far.
    var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to end; kills it and fails the test after `timeout`.
    func wait(timeout: Duration = .seconds(120)) async throws -> CLIOutcome {
        let ended = await poll(timeout: timeout) { !self.process.isRunning }
        if !ended {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            Issue.record("flowctl \(process.arguments ?? []) did not end within \(timeout)")
        }
        process.waitUntilExit()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return CLIOutcome(
            status: status,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }
}

/// Checks `condition` every 20 ms until it holds (true) or `timeout` passes (false).
func poll(timeout: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Whether process `pid` is still running (a zombie waiting for a reaper does not count).
func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// The process ID written in a marker file.
func pid(in sandbox: Sandbox, _ name: String) -> pid_t? {
    sandbox.lines(name).first.flatMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
}
