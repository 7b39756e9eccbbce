import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flowctl submit`, `worker`, `wait`, `cancel` and `queue` as users script them, with real
/// worker processes sharing one store.
@Suite("flowctl workers")
struct WorkerTests {
    /// One line a node wrote to the shared log: `WORKFLOW NODE start|end PID NANOSECONDS`.
    struct Mark {
        var workflow: String
        var node: String
        var isStart: Bool
        var pid: Int32
        var time: UInt64

        init?(_ line: String) {
            let parts = line.split(separator: " ")
            guard parts.count == 5, let process = Int32(parts[3]), let time = UInt64(parts[4]) else { return nil }
            workflow = String(parts[0])
            node = String(parts[1])
            isStart = parts[2] == "start"
            pid = process
            self.time = time
        }
    }

    /// A chain of three nodes, each logging its worker's pid ($PPID: the shell is the worker's
    /// child) with its start and end times, sleeping `pause` in between.
    static func loggingChain(_ sandbox: Sandbox, log: String, pause: String) throws -> String {
        func node(_ name: String, needs: String?) -> String {
            let mark = "echo \"$FLOW_WORKFLOW_ID $FLOW_NODE"
            return """
                  - name: \(name)
                \(needs.map { "    needs: [\($0)]\n" } ?? "")    run: \(mark) start $PPID $(date +%s%N)\" >> '\(log)'; sleep \(pause); \(mark) end $PPID $(date +%s%N)\" >> '\(log)'

                """
        }
        return try sandbox.write(
            "chain.yaml", "id: chain\nnodes:\n" + node("a", needs: nil) + node("b", needs: "a") + node("c", needs: "b"))
    }

    static func milliseconds(_ text: String?) -> UInt64? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { UInt64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    @Test("two workers, one killed with SIGKILL mid-way and another started: every workflow completes once, never in two processes at once")
    func killedWorkerIsTakenOver() async throws {
        let sandbox = try Sandbox()
        let log = sandbox.path("marks.log")
        let file = try Self.loggingChain(sandbox, log: log, pause: "0.5")
        let ids = (0..<40).map { "w\($0)" }
        for id in ids {
            let submitted = try await sandbox.run(["submit", file, "--id", id])
            try #require(submitted.status == 0 && submitted.stdout == id + "\n", "\(submitted)")
        }
        let victim = try sandbox.start(["worker", "--concurrency", "8"])
        let survivor = try sandbox.start(["worker", "--concurrency", "8"])
        // Mid-way: the victim has ended nodes and has some running.
        let midway = await poll(timeout: .seconds(120)) {
            let marks = sandbox.lines("marks.log").compactMap(Mark.init)
            let victims = marks.filter { $0.pid == victim.pid }
            return marks.count(where: { !$0.isStart }) >= 30 && victims.count(where: { !$0.isStart }) >= 3
        }
        try #require(midway, "the workers did not get going: \(victim.stderrSoFar) \(survivor.stderrSoFar)")
        let killedAt = UInt64(Date().timeIntervalSince1970 * 1e9)
        victim.signal(SIGKILL)
        let killed = try await victim.wait()
        #expect(killed.status == 128 + 9)
        let replacement = try sandbox.start(["worker", "--concurrency", "8"])
        for id in ids {
            let waited = try await sandbox.run(["wait", id, "--timeout", "120s"])
            #expect(waited.status == 0, "\(id): \(waited)")
        }
        for worker in [survivor, replacement] { worker.signal(SIGTERM) }
        for worker in [survivor, replacement] {
            let ended = try await worker.wait()
            #expect(ended.status == 0, "\(ended)")
        }

        let marks = sandbox.lines("marks.log").compactMap(Mark.init)
        var takenOver = 0
        for id in ids {
            let nodes = try await sandbox.nodes(id)
            let mine = marks.filter { $0.workflow == id }
            if Set(mine.map(\.pid)).count > 1 { takenOver += 1 }
            for name in ["a", "b", "c"] {
                let node = try #require(nodes[name])
                #expect(node["status"] as? String == "completed", "\(id)/\(name): \(node) \(sandbox.lines("store/default/\(id)/logs/\(name).log"))")
                // No run of a node starts after its completion was recorded.
                let recorded = try #require(Self.milliseconds(node["ended_at"] as? String))
                for start in mine where start.node == name && start.isStart {
                    #expect(start.time / 1_000_000 <= recorded + 1, "\(id)/\(name) started again after it was recorded completed")
                }
            }
            // Every run that logged both ends: no two processes' runs of one workflow overlap.
            var intervals: [(pid: Int32, node: String, start: UInt64, end: UInt64)] = []
            for start in mine where start.isStart {
                if let end = mine.first(where: { !$0.isStart && $0.node == start.node && $0.pid == start.pid && $0.time >= start.time }) {
                    intervals.append((start.pid, start.node, start.time, end.time))
                }
            }
            for first in intervals {
                for second in intervals where first.pid != second.pid {
                    #expect(first.end <= second.start || second.end <= first.start, "\(id): runs in \(first.pid) and \(second.pid) overlap: \(first) \(second); victim \(victim.pid), killed at \(killedAt)")
                }
            }
        }
        // Informational: how many workflows moved between processes.
        print("workflows taken over from the killed worker: \(takenOver)")
    }

    @Test("submitting an ID twice queues it once; a changed definition is refused with exit 3")
    func idempotentSubmit() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("one.yaml", "nodes:\n  - name: a\n    run: echo one\n")
        let first = try await sandbox.run(["submit", file, "--id", "same", "--queue", "q1", "--priority", "3"])
        let second = try await sandbox.run(["submit", file, "--id", "same", "--queue", "q1"])
        #expect(first.status == 0 && first.stdout == "same\n", "\(first)")
        #expect(second.status == 0 && second.stdout == "same\n", "\(second)")
        let queues = try await sandbox.run(["queue", "list"])
        let row = queues.stdout.split(separator: "\n").first { $0.hasPrefix("q1 ") }
        #expect(row?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first == "1", "\(queues)")
        try sandbox.write("one.yaml", "nodes:\n  - name: a\n    run: echo changed\n")
        let changed = try await sandbox.run(["submit", file, "--id", "same", "--queue", "q1"])
        #expect(changed.status == 3, "\(changed)")
        #expect(changed.stderr.contains("definition differs"), "\(changed)")
        let bad = try await sandbox.run(["submit", file, "--in", "10s", "--at", "2026-12-24T08:00:00Z"])
        #expect(bad.status == 2, "\(bad.stderr)")
    }

    @Test("cancel: a queued workflow never runs, a running one stops; wait exits 5, 4 on timeout, 3 for unknown IDs")
    func cancelQueuedAndRunning() async throws {
        let sandbox = try Sandbox()
        let queuedFile = try sandbox.write("queued.yaml", "nodes:\n  - name: a\n    run: touch '\(sandbox.path("queued-ran"))'\n")
        let runningFile = try sandbox.write(
            "running.yaml", "nodes:\n  - name: a\n    run: touch '\(sandbox.path("running-started"))'; sleep 60\n")
        _ = try await sandbox.run(["submit", queuedFile, "--id", "queued"])
        let early = try await sandbox.run(["wait", "queued", "--timeout", "200ms"])
        #expect(early.status == 4, "\(early)")
        let cancelQueued = try await sandbox.run(["cancel", "queued"])
        #expect(cancelQueued.status == 0, "\(cancelQueued)")
        let waitedQueued = try await sandbox.run(["wait", "queued"])
        #expect(waitedQueued.status == 5, "\(waitedQueued)")

        let worker = try sandbox.start(["worker", "--concurrency", "2"])
        _ = try await sandbox.run(["submit", runningFile, "--id", "running"])
        let started = await poll(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: sandbox.path("running-started")) }
        try #require(started, "\(worker.stderrSoFar)")
        let cancelRunning = try await sandbox.run(["cancel", "running", "--reason", "no longer needed"])
        #expect(cancelRunning.status == 0, "\(cancelRunning)")
        let waitedRunning = try await sandbox.run(["wait", "running", "--timeout", "30s"])
        #expect(waitedRunning.status == 5, "\(waitedRunning)")
        #expect(waitedRunning.stdout.contains("no longer needed"), "\(waitedRunning)")
        worker.signal(SIGTERM)
        let ended = try await worker.wait()
        #expect(ended.status == 0, "\(ended)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("queued-ran")))
        #expect(try await sandbox.show("queued")["status"] as? String == "cancelled")

        #expect(try await sandbox.run(["cancel", "nobody"]).status == 3)
        #expect(try await sandbox.run(["wait", "nobody"]).status == 3)
    }

    @Test("SIGTERM during a node: the worker exits 0 after its grace period, another worker resumes the workflow")
    func sigtermDuringNode() async throws {
        let sandbox = try Sandbox()
        let first = sandbox.path("first-attempt")
        let file = try sandbox.write(
            "slow.yaml",
            """
            nodes:
              - name: slow
                run: if [ -f '\(first)' ]; then echo again; else echo $PPID > '\(first)'; sleep 60; fi
              - name: after
                needs: [slow]
                run: echo $PPID
            """)
        let worker = try sandbox.start(["worker", "--grace", "300ms"])
        _ = try await sandbox.run(["submit", file, "--id", "slow"])
        let started = await poll(timeout: .seconds(60)) { pid(in: sandbox, "first-attempt") != nil }
        try #require(started, "\(worker.stderrSoFar)")
        #expect(pid(in: sandbox, "first-attempt") == worker.pid)
        worker.signal(SIGTERM)
        let ended = try await worker.wait(timeout: .seconds(60))
        #expect(ended.status == 0, "\(ended)")
        #expect(try await sandbox.show("slow")["status"] as? String == "interrupted")

        let other = try sandbox.start(["worker"])
        let waited = try await sandbox.run(["wait", "slow", "--timeout", "60s"])
        #expect(waited.status == 0, "\(waited)")
        other.signal(SIGTERM)
        #expect(try await other.wait().status == 0)
        let output = try await sandbox.run(["output", "slow", "after"])
        #expect(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(other.pid), "\(output)")
    }

    @Test("queue set and list: limits, per-worker limits and rates as given")
    func queueSettings() async throws {
        let sandbox = try Sandbox()
        let set = try await sandbox.run(["queue", "set", "builds", "--limit", "3", "--per-worker", "1", "--rate", "10/1m"])
        #expect(set.status == 0, "\(set)")
        let list = try await sandbox.run(["queue", "list"])
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix("builds") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(row == ["builds", "3", "1", "10/1m", "0", "0"], "\(list)")
        let bad = try await sandbox.run(["queue", "set", "builds", "--rate", "ten"])
        #expect(bad.status == 2, "\(bad.stderr)")
    }
}
