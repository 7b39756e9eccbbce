import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lines of `text` decoded as JSON objects; fails the test on a line that is not one.
private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
}

/// A run with a retry: fetch, then build (fails once, then succeeds).
private let retryingPipeline = """
    nodes:
      - name: fetch
        run: echo fetched
      - name: build
        needs: [fetch]
        run: if [ "$FLOW_ATTEMPT" -lt 2 ]; then echo flaky >&2; exit 1; fi; echo built
        retry: { attempts: 2, backoff: 10ms }
    """

/// Its events, in order.
private let retryingKinds = [
    "workflow.started", "node.started", "node.completed", "node.started", "node.retried", "node.started",
    "node.completed", "workflow.finished",
]

/// `history`, `show --at`, `watch` and `dump`: a workflow's events and raw files.
@Suite("flowctl history, watch and dump")
struct HistoryTests {
    @Test("history prints every event as text, JSON and CloudEvents; --from, --limit and --at cut it")
    func history() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("pipe.yaml", retryingPipeline)
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)

        let text = try await sandbox.run(["history", "pipe"])
        #expect(text.status == 0, "\(text)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let pattern = /^#(\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([a-z._]+)( .*)?$/
        let parsed = lines.compactMap { $0.wholeMatch(of: pattern) }
        #expect(parsed.count == lines.count, "\(text)")
        #expect(parsed.map { Int($0.1) } == Array(1...8), "\(text)")
        #expect(parsed.map { String($0.2) } == retryingKinds, "\(text)")
        #expect(lines.count == 8 && lines[3].hasSuffix(" node.started build (attempt 1)"), "\(text)")
        #expect(lines.count == 8 && lines[4].contains(" node.retried build (attempt 1), next attempt in "), "\(text)")
        #expect(lines.count == 8 && lines[4].hasSuffix(": exit 1: flaky"), "\(text)")
        #expect(lines.count == 8 && lines[6].hasSuffix(" node.completed build (attempt 2), output 6 B"), "\(text)")
        #expect(lines.last?.hasSuffix(" workflow.finished completed") == true, "\(text)")

        let json = try await sandbox.run(["history", "pipe", "--format", "json"])
        #expect(json.status == 0, "\(json)")
        let events = try jsonLines(json.stdout)
        let fields: Set = [
            "sequence", "time", "kind", "node", "node_index", "attempt", "workflow_status", "error", "key",
            "payload_base64", "payload_bytes", "delay_us",
        ]
        for event in events { #expect(Set(event.keys) == fields, "\(event)") }
        #expect(events.map { $0["sequence"] as? Int } == Array(1...8))
        #expect(events.map { $0["kind"] as? String } == retryingKinds)
        try #require(events.count == 8)
        #expect(events[2]["node"] as? String == "fetch")
        #expect(events[2]["payload_base64"] as? String == Data("fetched\n".utf8).base64EncodedString())
        #expect(events[2]["payload_bytes"] as? Int == 8)
        #expect(events[3]["payload_bytes"] is NSNull)
        #expect(events[4]["error"] as? String == "exit 1: flaky")
        #expect((events[4]["delay_us"] as? Int ?? 0) > 0)
        #expect(events[5]["attempt"] as? Int == 2)
        #expect(events[7]["workflow_status"] as? String == "completed")
        let time = try #require(events[0]["time"] as? String)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil, "\(time)")

        let cloud = try await sandbox.run(["history", "pipe", "--format", "cloudevents"])
        #expect(cloud.status == 0, "\(cloud)")
        let cloudEvents = try jsonLines(cloud.stdout)
        #expect(cloudEvents.count == 8)
        for (event, kind) in zip(cloudEvents, retryingKinds) {
            #expect(event["specversion"] as? String == "1.0", "\(event)")
            for attribute in ["id", "source", "type"] {
                #expect((event[attribute] as? String)?.isEmpty == false, "\(attribute) in \(event)")
            }
            #expect(event["type"] as? String == "io.floworchestrator." + kind, "\(event)")
            #expect(event["workflowid"] as? String == "pipe", "\(event)")
        }
        #expect(Set(cloudEvents.compactMap { $0["id"] as? String }).count == 8, "ids are unique: \(cloud)")
        #expect(cloudEvents[6]["subject"] as? String == "build")

        let window = try await sandbox.run(["history", "pipe", "--from", "4", "--limit", "2", "--format", "json"])
        #expect(try jsonLines(window.stdout).map { $0["sequence"] as? Int } == [4, 5], "\(window)")
        let early = try await sandbox.run(["history", "pipe", "--at", "3"])
        #expect(early.stdout.split(separator: "\n").count == 3, "\(early)")
        #expect(early.stdout.hasSuffix(" node.completed fetch (attempt 1), output 8 B\n"), "\(early)")
        let skippedStart = try await sandbox.run(["history", "pipe", "--from", "7", "--at", "7"])
        #expect(skippedStart.stdout.hasSuffix(" node.completed build (attempt 2), output 6 B\n"), "attempt known from before --from: \(skippedStart)")
        let beyond = try await sandbox.run(["history", "pipe", "--at", "9"])
        #expect(beyond.status == 2, "\(beyond)")
        #expect(beyond.stderr == "flowctl: error: workflow default/pipe has 8 events; there is no event 9\n", "\(beyond)")
        let missing = try await sandbox.run(["history", "nope"])
        #expect(missing.status == 3, "\(missing)")

        // With --persist end the state is kept, not the events: a clear error, not an empty history.
        let endOnly = try sandbox.write("end.yaml", "nodes:\n  - name: only\n    run: true\n")
        #expect(try await sandbox.run(["run", endOnly, "--quiet", "--persist", "end"]).status == 0)
        let unrecorded = try await sandbox.run(["history", "end"])
        #expect(unrecorded.status == 3, "\(unrecorded)")
        #expect(unrecorded.stderr.contains("--persist end or level"), "\(unrecorded)")
    }

    @Test("show --at rebuilds the state as it was after an earlier event")
    func showAt() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("pipe.yaml", retryingPipeline)
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)

        func state(at sequence: Int) async throws -> [String: Any] {
            let show = try await sandbox.run(["show", "pipe", "--at", "\(sequence)", "--compact"])
            try #require(show.status == 0, "\(show)")
            return try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        }
        func statuses(_ state: [String: Any]) -> [String] {
            (state["nodes"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["status"] ?? "")" }
        }
        #expect(statuses(try await state(at: 0)) == ["fetch=pending", "build=pending"])
        let afterFetch = try await state(at: 3)
        #expect(afterFetch["status"] as? String == "running")
        #expect(statuses(afterFetch) == ["fetch=completed", "build=pending"])
        let afterRetry = try await state(at: 5)
        #expect(statuses(afterRetry) == ["fetch=completed", "build=running"])
        let build = try #require((afterRetry["nodes"] as? [[String: Any]])?.last)
        #expect(build["attempts"] as? Int == 1 && build["error"] as? String == "exit 1: flaky", "\(build)")
        let end = try await state(at: 8)
        #expect(end["status"] as? String == "completed")
        #expect(statuses(end) == ["fetch=completed", "build=completed"])
        #expect(try await sandbox.show("pipe")["updated_at"] as? String == end["updated_at"] as? String)

        let beyond = try await sandbox.run(["show", "pipe", "--at", "9"])
        #expect(beyond.status == 2, "\(beyond)")
    }

    @Test("watch, started before and during a run, prints every event once and exits 0 when it completes")
    func watchLive() async throws {
        let sandbox = try Sandbox()
        let go = sandbox.path("go")
        let file = try sandbox.write(
            "slow.yaml",
            """
            concurrency: 2
            nodes:
              - name: a
                run: sleep 0.2; echo a
              - name: b
                needs: [a]
                run: while [ ! -e '\(go)' ]; do sleep 0.05; done; sleep 0.2; echo b
              - name: c
                needs: [a]
                run: sleep 0.2; echo c
              - name: d
                needs: [b, c]
                run: sleep 0.2; echo d
            """)
        // Before the workflow exists: the watch waits for it.
        let early = try sandbox.start(["watch", "slow", "--wait", "60s"])
        try await Task.sleep(for: .milliseconds(300))
        #expect(early.process.isRunning, "watch waits for a workflow that does not exist yet")
        let run = try sandbox.start(["run", file, "--quiet"])
        // While it runs: node b waits until the second watch, started once the first has seen a
        // complete, has caught up; the rest of the run is followed live by both. (A start is
        // journaled with the next completion, so completions are what a watch sees first.)
        let started = await poll(timeout: .seconds(60)) { early.stdoutSoFar.contains("node.completed a") }
        #expect(started, "the first watch saw the run start")
        let late = try sandbox.start(["watch", "slow", "--format", "json"])
        let caughtUp = await poll(timeout: .seconds(60)) { late.stdoutSoFar.contains(#""node.completed""#) }
        #expect(caughtUp, "the second watch caught up with the run")
        #expect(FileManager.default.createFile(atPath: go, contents: nil))

        let runOutcome = try await run.wait()
        #expect(runOutcome.status == 0, "\(runOutcome)")
        let earlyOutcome = try await early.wait(timeout: .seconds(60))
        let lateOutcome = try await late.wait(timeout: .seconds(60))
        #expect(earlyOutcome.status == 0, "\(earlyOutcome)")
        #expect(lateOutcome.status == 0, "\(lateOutcome)")

        let history = try await sandbox.run(["history", "slow"])
        #expect(earlyOutcome.stdout == history.stdout, "the live watch printed the history exactly")
        let lines = earlyOutcome.stdout.split(separator: "\n")
        for node in ["a", "b", "c", "d"] {
            #expect(lines.filter { $0.contains(" node.completed \(node) ") }.count == 1, "\(earlyOutcome)")
        }
        #expect(lines.last?.hasSuffix("workflow.finished completed") == true, "\(earlyOutcome)")

        let events = try jsonLines(lateOutcome.stdout)
        let sequences = events.compactMap { $0["sequence"] as? Int }
        #expect(sequences == Array(1...lines.count), "every event once, in order: \(lateOutcome)")
        let completed = events.filter { $0["kind"] as? String == "node.completed" }.compactMap { $0["node"] as? String }
        #expect(completed.sorted() == ["a", "b", "c", "d"], "\(lateOutcome)")

        // --from: only the later events; a finished workflow ends the watch at once.
        let tail = try await sandbox.run(["watch", "slow", "--from", "\(lines.count)"])
        #expect(tail.status == 0 && tail.stdout.split(separator: "\n").count == 1, "\(tail)")
    }

    @Test("watch exits 1 for a failed workflow, 3 when none appears, 130 on SIGINT")
    func watchEndings() async throws {
        let sandbox = try Sandbox()
        let failing = try sandbox.write("bad.yaml", "nodes:\n  - name: only\n    run: exit 2\n")
        #expect(try await sandbox.run(["run", failing, "--quiet"]).status == 1)
        let failed = try await sandbox.run(["watch", "bad"])
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stdout.hasSuffix("workflow.finished failed\n"), "\(failed)")

        let absent = try await sandbox.run(["watch", "absent", "--wait", "200ms"])
        #expect(absent.status == 3, "\(absent)")
        #expect(absent.stderr == "flowctl: error: workflow default/absent not found in \(sandbox.store) (waited 200ms)\n")

        // SIGINT ends the watch (exit 130, not a death by signal) and leaves the run alone.
        let go = sandbox.path("go")
        let slow = try sandbox.write(
            "slow.yaml",
            """
            nodes:
              - name: first
                run: "true"
              - name: nap
                needs: [first]
                run: while [ ! -e '\(go)' ]; do sleep 0.05; done
            """)
        let run = try sandbox.start(["run", slow, "--quiet"])
        let watch = try sandbox.start(["watch", "slow", "--wait", "60s"])
        #expect(await poll(timeout: .seconds(60)) { watch.stdoutSoFar.contains("node.completed first") })
        watch.signal(SIGINT)
        let interrupted = try await watch.wait(timeout: .seconds(30))
        #expect(interrupted.status == 130, "\(interrupted)")
        #expect(watch.process.terminationReason == .exit, "flowctl handled SIGINT")
        #expect(interrupted.stderr.isEmpty, "\(interrupted)")
        #expect(run.process.isRunning, "the run goes on")
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        let runOutcome = try await run.wait()
        #expect(runOutcome.status == 0, "\(runOutcome)")
    }

    @Test("dump decodes a run's snapshot, summary and journal; a torn journal shows its damage; a bad file exits 3")
    func dump() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("pipe.yaml", retryingPipeline)
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        let directory = sandbox.store + "/default/pipe"

        func dump(_ path: String) async throws -> [String: Any] {
            let outcome = try await sandbox.run(["dump", path, "--compact"])
            try #require(outcome.status == 0, "\(outcome)")
            return try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        }
        let snapshot = try await dump(directory + "/snapshot.fb.zst")
        #expect(snapshot["type"] as? String == "snapshot")
        let state = try #require(snapshot["state"] as? [String: Any])
        #expect(state["id"] as? String == "pipe" && state["tenant"] as? String == "default", "\(state)")
        #expect((state["nodes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["fetch", "build"])
        let definition = try #require((state["definition_base64"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(String(decoding: definition, as: UTF8.self) == retryingPipeline)

        let summary = try #require(try await dump(directory + "/summary.fb")["summary"] as? [String: Any])
        #expect(summary["status"] as? String == "completed" && summary["node_count"] as? Int == 2, "\(summary)")
        #expect((summary["node_counts"] as? [String: Int]) == ["completed": 2], "\(summary)")

        let journal = try await dump(directory + "/journal.log")
        #expect(journal["type"] as? String == "journal")
        #expect(journal["damage"] is NSNull, "\(journal)")
        let base = try #require(journal["base_sequence"] as? Int)
        let records = try #require(journal["records"] as? Int)
        #expect(base == state["last_sequence"] as? Int, "the journal follows the snapshot")
        #expect(base + records == summary["last_sequence"] as? Int, "the journal reaches the summary")
        let events = try #require(journal["events"] as? [[String: Any]])
        let history = try await sandbox.run(["history", "pipe", "--format", "json", "--from", "\(base + 1)"])
        #expect(NSArray(array: events).isEqual(to: try jsonLines(history.stdout)), "dump and history agree")

        // A journal cut inside its last record: the records before it, and the damage's offset.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/journal.log"))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: sandbox.path("torn.log")))
        let torn = try await dump(sandbox.path("torn.log"))
        #expect(torn["records"] as? Int == records - 1, "\(torn)")
        let damage = try #require(torn["damage"] as? [String: Any], "\(torn)")
        let offset = try #require(damage["offset"] as? Int, "\(damage)")
        #expect(offset > 0 && offset < bytes.count, "\(damage)")
        #expect((damage["message"] as? String)?.isEmpty == false, "\(damage)")

        // A snapshot cut in half, a file of another kind, a missing file: one line, exit 3.
        let snapshotBytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot.fb.zst"))
        try snapshotBytes.prefix(snapshotBytes.count / 2).write(to: URL(fileURLWithPath: sandbox.path("half.fb.zst")))
        for path in [sandbox.path("half.fb.zst"), file, sandbox.path("absent")] {
            let bad = try await sandbox.run(["dump", path])
            #expect(bad.status == 3, "\(bad)")
            #expect(bad.stdout.isEmpty, "\(bad)")
            #expect(bad.stderr.hasPrefix("flowctl: error: \(path)") && bad.stderr.split(separator: "\n").count == 1, "\(bad)")
        }
    }

    @Test("reset of a node of a completed workflow makes it pending: run FILE reruns only that node")
    func resetCompleted() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        let file = try sandbox.write(
            "twice.yaml",
            """
            nodes:
              - name: a
                run: echo a >> '\(marks)'
              - name: b
                needs: [a]
                run: echo b >> '\(marks)'
            """)
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        #expect(try await sandbox.run(["reset", "twice", "--node", "b"]).status == 0)
        #expect(try await sandbox.show("twice")["status"] as? String == "pending")
        let again = try await sandbox.run(["run", file, "--quiet"])
        #expect(again.status == 0, "\(again)")
        #expect(sandbox.lines("marks") == ["a", "b", "b"])
        let history = try await sandbox.run(["history", "twice"])
        #expect(history.stdout.contains(" node.reset b\n"), "\(history)")
        #expect(history.stdout.components(separatedBy: "workflow.finished completed").count == 3, "\(history)")
    }
}
