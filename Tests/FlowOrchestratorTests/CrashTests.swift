import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// Path of an executable built next to the test bundle.
func builtExecutable(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let executable = count > 0 ? String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    // Inside an .xctest bundle on some layouts: walk up to the build products directory.
    while directory.path != "/" && !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path) {
        directory = directory.deletingLastPathComponent()
    }
    return directory.appendingPathComponent(name).path
}

/// A child process started with posix_spawn, so the test controls its signals and reaping.
struct Child {
    let pid: pid_t

    init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        var pid: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard result == 0 else { throw FlowError(.io, "cannot start \(path): \(Errno(code: result))") }
        self.pid = pid
    }

    /// Waits for the child; returns its exit status, or nil when a signal ended it. The
    /// blocking `waitpid` runs on a Dispatch thread: on the cooperative pool (as many threads as
    /// cores, two here) it would stall every other test's tasks for as long as the child runs.
    func wait() async -> Int32? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: waitBlocking()) }
        }
    }

    /// Sleeps `microseconds`, then kills the child unless it has exited; returns whether it
    /// killed it. On a Dispatch thread, so that neither the sleep's precision nor other tests
    /// depend on how busy the cooperative pool is.
    func kill(after microseconds: useconds_t) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                usleep(microseconds)
                let running = !hasExited
                if running { kill() }
                continuation.resume(returning: running)
            }
        }
    }

    /// `wait()` for a child that has just been killed (in a `defer`, which cannot await).
    func waitBlocking() -> Int32? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : nil
    }

    /// Whether the child has exited (without reaping it).
    var hasExited: Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid
    }

    func kill(_ signal: Int32 = SIGKILL) { _ = Glibc.kill(pid, signal) }
}

@Suite("Crash recovery with real processes")
struct CrashTests {
    static let nodes = 400
    static let width = 4

    private func markerCounts(_ path: String) -> [String: Int] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        return counts
    }

    @Test("kill -9 at random moments: nothing completed is lost or run again, the final state matches")
    func killNine() async throws {
        let binary = builtExecutable("flow-crashtest")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "flow-crashtest not built at \(binary)")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let key = try WorkflowKey(id: "crash")

        // An uninterrupted run, for the final comparison.
        let reference = try Child(binary, ["\(directory.path)/reference", "crash", "\(directory.path)/reference.marks", "\(Self.nodes)", "\(Self.width)"])
        #expect(await reference.wait() == 0)
        let expected = try await FlatBuffersStore(directory: "\(directory.path)/reference").load(key)

        let store = "\(directory.path)/store"
        let marker = "\(directory.path)/marks"
        var seed = UInt64(ProcessInfo.processInfo.environment["FLOW_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("crash test seed \(seed) (set FLOW_CRASH_SEED to replay)")
        var completedBefore = Set<String>()
        var countsBefore: [String: Int] = [:]
        var kills = 0
        for round in 0..<40 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let delay = useconds_t(500 + (seed >> 33) % 40_000)
            let child = try Child(binary, [store, "crash", marker, "\(Self.nodes)", "\(Self.width)", "\(round)"])
            let killed = await child.kill(after: delay)
            let finished = !killed
            if killed { kills += 1 }
            let status = await child.wait()
            // Reopening never fails.
            let state = try await FlatBuffersStore(directory: store).loadIfPresent(key)
            let counts = markerCounts(marker)
            let completedNow = Set(state?.nodes.filter { $0.status == .completed }.map(\.name) ?? [])
            #expect(completedBefore.isSubset(of: completedNow), "round \(round): completed nodes were lost")
            for name in completedBefore {
                #expect(counts[name] == countsBefore[name], "round \(round): \(name) ran again after it was recorded completed")
            }
            for name in completedNow {
                #expect((counts[name] ?? 0) >= 1, "round \(round): \(name) recorded completed but never ran")
            }
            completedBefore = completedNow
            countsBefore = counts
            if finished && status == 0 { break }
        }
        print("crash test: \(kills) kills")
        #expect(kills >= 3)
        // Finish the run, then compare with the uninterrupted one.
        let last = try Child(binary, [store, "crash", marker, "\(Self.nodes)", "\(Self.width)"])
        #expect(await last.wait() == 0)
        let final = try await FlatBuffersStore(directory: store).load(key)
        #expect(final.status == expected.status)
        #expect(final.nodes.map(\.status) == expected.nodes.map(\.status))
        #expect(final.nodes.map(\.output) == expected.nodes.map(\.output))
        for name in completedBefore { #expect(markerCounts(marker)[name] == countsBefore[name]) }
        #expect(try await FlatBuffersStore(directory: store).verify() == [])
    }

    @Test("a second process is refused while the first holds the workflow")
    func secondProcessRefused() async throws {
        let binary = builtExecutable("flow-crashtest")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = "\(directory.path)/store"
        // A chain of 400 nodes of 50 ms each: the first process holds the workflow for 20 s.
        let first = try Child(binary, [store, "held", "\(directory.path)/marks", "400", "1", "1", "50000"])
        defer {
            first.kill()
            _ = first.waitBlocking()
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: "\(directory.path)/marks") && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let second = try Child(binary, [store, "held", "\(directory.path)/marks2", "400", "1"])
        #expect(await second.wait() == 3)
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/marks2"))
        var dag = DAG()
        for index in 0..<400 { try dag.addNode("n\(index)", dependsOn: index >= 1 ? ["n\(index - 1)"] : []) { _ in .empty } }
        let error = await #expect(throws: FlowError.self) {
            try await Workflow(id: "held", dag: dag, store: try FlatBuffersStore(directory: store)).execute()
        }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("pid \(first.pid)") == true)
    }
}
