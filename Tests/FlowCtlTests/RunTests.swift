import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flowctl run` and `resume` end to end: outputs, retries, timeouts, crashes, interrupts.
@Suite("flowctl run", .serialized)
struct RunTests {
    @Test("A pipeline passes outputs between nodes and `show` reports it in the documented shape")
    func happyPath() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "pipeline.yaml",
            """
            concurrency: 2
            nodes:
              - name: fetch
                run: printf 'alpha beta\\ngamma\\n'; echo "fetch log line" >&2
              - name: count-words
                needs: [fetch]
                run: printf '%s\\n' "$FLOW_OUTPUT_fetch" | wc -w | tr -d ' '
              - name: count-lines
                needs: [fetch]
                run: wc -l < "$FLOW_INPUTS/fetch" | tr -d ' '
              - name: join
                needs: [count-words, count-lines]
                env: { GREETING: "hello there" }
                run: echo "$GREETING $FLOW_OUTPUT_count_words/$FLOW_OUTPUT_count_lines $FLOW_NODE $FLOW_ATTEMPT $FLOW_WORKFLOW_ID $FLOW_IDEMPOTENCY_KEY"
            """)
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("fetch started (attempt 1)"), "\(run)")
        #expect(run.stdout.contains("workflow pipeline completed"), "\(run)")

        let output = try await sandbox.run(["output", "pipeline", "join"])
        #expect(output.stdout == "hello there 3/2 join 1 pipeline default/pipeline/join\n", "\(output)")

        let compact = try await sandbox.run(["show", "pipeline", "--compact"])
        #expect(compact.stdout.hasPrefix(#"{"id":"pipeline","tenant":"default","status":"completed","created_at":"#))
        #expect(compact.stdout.contains(#"{"name":"fetch","status":"completed","attempts":1,"started_at":"#))
        #expect(compact.stdout.contains(#","error":null,"output_bytes":17}"#), "\(compact)")

        let state = try await sandbox.show("pipeline")
        #expect(state["status"] as? String == "completed")
        let nodes = try #require(state["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["name"] as? String } == ["fetch", "count-words", "count-lines", "join"])
        for node in nodes {
            #expect(node["status"] as? String == "completed")
            #expect(node["attempts"] as? Int == 1)
            let started = try #require(node["started_at"] as? String)
            #expect(try Date(started, strategy: .iso8601) <= Date())
        }
        let log = try String(contentsOfFile: sandbox.store + "/default/pipeline/logs/fetch.log", encoding: .utf8)
        #expect(log.contains("fetch log line"))

        let again = try await sandbox.run(["run", file])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already completed"), "\(again)")
    }

    @Test("A failing node is retried, its attempts are counted and the run exits 1")
    func failingNodeWithRetries() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        let file = try sandbox.write(
            "flaky.yaml",
            """
            nodes:
              - name: flaky
                run: echo "try $FLOW_ATTEMPT" >> '\(marks)'; echo "disk on fire" >&2; exit 3
                retry: { attempts: 3, backoff: 50ms }
              - name: after
                needs: [flaky]
                run: echo after >> '\(marks)'
            """)
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.contains("flaky attempt 1 failed, retrying"), "\(run)")
        #expect(sandbox.lines("marks") == ["try 1", "try 2", "try 3"])
        let nodes = try await sandbox.nodes("flaky")
        #expect(nodes["flaky"]?["status"] as? String == "failed")
        #expect(nodes["flaky"]?["attempts"] as? Int == 3)
        #expect(nodes["flaky"]?["error"] as? String == "exit 3: disk on fire")
        #expect(nodes["after"]?["status"] as? String == "pending")

        // Reset and resume: the node runs again (and fails again), the attempt count goes on.
        let reset = try await sandbox.run(["reset", "flaky", "--failed"])
        #expect(reset.status == 0, "\(reset)")
        #expect(try await sandbox.nodes("flaky")["flaky"]?["status"] as? String == "pending")
        let resume = try await sandbox.run(["resume", "flaky", "--quiet"])
        #expect(resume.status == 1, "\(resume)")
        #expect(resume.stdout.split(separator: "\n").count == 1, "--quiet prints only the final line: \(resume)")
        #expect(sandbox.lines("marks").count == 6)
    }

    @Test("A timeout kills the node's whole process group, grandchildren included")
    func timeoutKillsProcessGroup() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "slow.yaml",
            """
            nodes:
              - name: slow
                run: sleep 300 & echo $! > '\(sandbox.path("grandchild"))'; wait
                timeout: 1s
            """)
        let started = ContinuousClock.now
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 1, "\(run)")
        #expect(ContinuousClock.now - started < .seconds(60))
        let grandchild = try #require(pid(in: sandbox, "grandchild"))
        #expect(await poll(timeout: .seconds(10)) { !isRunning(grandchild) }, "sleep \(grandchild) survived the timeout")
        let nodes = try await sandbox.nodes("slow")
        #expect(nodes["slow"]?["status"] as? String == "failed")
        #expect((nodes["slow"]?["error"] as? String)?.contains("timed out") == true, "\(nodes)")
    }

    @Test("A node writing more than --max-output fails with a clear error")
    func outputLimit() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "big.yaml", "nodes:\n  - name: big\n    run: head -c 200000 /dev/zero\n")
        let run = try await sandbox.run(["run", file, "--max-output", "64K"])
        #expect(run.status == 1, "\(run)")
        let error = try await sandbox.nodes("big")["big"]?["error"] as? String
        #expect(error?.contains("over the output limit of 64 KiB") == true, "\(String(describing: error))")
    }

    @Test("kill -9 of flowctl, then `resume ID`: completed nodes are not run again")
    func killNineThenResume() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        let go = sandbox.path("go")
        let file = try sandbox.write(
            "crashy.yaml",
            """
            nodes:
              - name: first
                run: echo first >> '\(marks)'; echo one
              - name: second
                needs: [first]
                run: |
                  echo second >> '\(marks)'
                  echo $$ >> '\(sandbox.path("second-pids"))'
                  while [ ! -e '\(go)' ]; do sleep 0.05; done
                  echo "two after $FLOW_OUTPUT_first"
              - name: third
                needs: [second]
                run: echo third >> '\(marks)'; echo "$FLOW_OUTPUT_second"
            """)
        let crashed = try sandbox.start(["run", file])
        #expect(
            await poll { sandbox.lines("marks") == ["first", "second"] && pid(in: sandbox, "second-pids") != nil },
            "second never started")
        crashed.signal(SIGKILL)
        let crash = try await crashed.wait()
        #expect(crash.status == 128 + SIGKILL)
        // The orphaned first `second` is still running: it must not hold the workflow's lock.
        let orphan = try #require(pid(in: sandbox, "second-pids"))
        defer { kill(-orphan, SIGKILL) }
        #expect(isRunning(orphan))

        let resumed = try sandbox.start(["resume", "crashy"])
        #expect(await poll { sandbox.lines("marks").count == 3 }, "second did not run again")
        try #require(FileManager.default.createFile(atPath: go, contents: nil))
        let resume = try await resumed.wait()
        #expect(resume.status == 0, "\(resume)")
        #expect(sandbox.lines("marks") == ["first", "second", "second", "third"])
        let nodes = try await sandbox.nodes("crashy")
        #expect(nodes["first"]?["attempts"] as? Int == 1)
        #expect(nodes.values.allSatisfy { $0["status"] as? String == "completed" }, "\(nodes)")
        let output = try await sandbox.run(["output", "crashy", "third"])
        #expect(output.stdout == "two after one\n", "\(output)")
    }

    @Test("SIGINT stops the children, records interrupted and exits 130", arguments: [SIGINT, SIGTERM])
    func interrupt(signal: Int32) async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "long.yaml",
            """
            concurrency: 2
            nodes:
              - name: quick
                run: echo quick
              - name: left
                needs: [quick]
                run: sleep 300 & echo $! > '\(sandbox.path("left"))'; wait
              - name: right
                needs: [quick]
                run: sleep 300 & echo $! > '\(sandbox.path("right"))'; wait
              - name: last
                needs: [left, right]
                run: echo never
            """)
        let running = try sandbox.start(["run", file])
        #expect(
            await poll { pid(in: sandbox, "left") != nil && pid(in: sandbox, "right") != nil }, "nodes never started")
        let sleepers = [pid(in: sandbox, "left"), pid(in: sandbox, "right")].compactMap { $0 }
        try #require(sleepers.count == 2)
        running.signal(signal)
        let outcome = try await running.wait(timeout: .seconds(30))
        #expect(outcome.status == 130, "\(outcome)")
        #expect(outcome.stdout.contains("interrupted"), "\(outcome)")
        for sleeper in sleepers {
            #expect(await poll(timeout: .seconds(10)) { !isRunning(sleeper) }, "sleep \(sleeper) survived")
        }
        let state = try await sandbox.show("long")
        #expect(state["status"] as? String == "interrupted")
        let nodes = try await sandbox.nodes("long")
        #expect(nodes["quick"]?["status"] as? String == "completed")
        #expect(nodes["left"]?["status"] as? String == "interrupted")
        #expect(nodes["right"]?["status"] as? String == "interrupted")
        #expect(nodes["last"]?["status"] as? String == "pending")
    }
}
