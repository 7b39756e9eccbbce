import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How flowctl runs node commands, end to end: one reaper watches every child, so outputs,
/// exit statuses, stderr logs and stops must reach the right node however many run at once.
@Suite("flowctl node processes")
struct NodeProcessTests {
    @Test("Many nodes at once: each gets its own output, exit status and stderr")
    func manyChildren() async throws {
        let sandbox = try Sandbox()
        let count = 48
        func code(_ i: Int) -> Int { i % 4 == 3 ? i % 7 + 1 : 0 }
        var yaml = "concurrency: 16\nnodes:\n"
        for i in 0..<count {
            // Different lengths and a short, varying wait, so that exits interleave.
            yaml += """
                  - name: n\(i)
                    run: printf 'out-\(i)-%0\(i % 5 + 1)d\\n' 7; echo "err-\(i)" >&2; sleep 0.0\(i % 10); exit \(code(i))

                """
        }
        let succeeding = (0..<count).filter { code($0) == 0 }
        yaml += """
              - name: join
                needs: [\(succeeding.map { "n\($0)" }.joined(separator: ", "))]
                run: cat \(succeeding.map { "\"$FLOW_INPUTS/n\($0)\"" }.joined(separator: " "))

            """
        let file = try sandbox.write("many.yaml", yaml)
        let run = try await sandbox.run(["run", file, "--keep-going", "--quiet"])
        #expect(run.status == 1, "\(run)")

        let nodes = try await sandbox.nodes("many")
        for i in 0..<count {
            let node = try #require(nodes["n\(i)"])
            if code(i) == 0 {
                #expect(node["status"] as? String == "completed", "n\(i): \(node)")
                #expect(node["output_bytes"] as? Int == "out-\(i)-".utf8.count + i % 5 + 2, "n\(i): \(node)")
            } else {
                #expect(node["status"] as? String == "failed", "n\(i): \(node)")
                #expect(node["error"] as? String == "exit \(code(i)): err-\(i)", "n\(i): \(node)")
            }
            let log = try String(contentsOfFile: sandbox.store + "/default/many/logs/n\(i).log", encoding: .utf8)
            #expect(log.hasSuffix("attempt 1 ---\nerr-\(i)\n"), "n\(i): \(log)")
        }
        #expect(nodes["join"]?["status"] as? String == "completed", "\(String(describing: nodes["join"]))")
        let joined = try await sandbox.run(["output", "many", "join"])
        let expected = succeeding.map { i in "out-\(i)-" + String(repeating: "0", count: i % 5) + "7\n" }.joined()
        #expect(joined.stdout == expected, "\(joined)")
    }

    @Test("Input files hold a dependency's exact bytes; the inputs directory is gone when the run ends")
    func inputFiles() async throws {
        let sandbox = try Sandbox()
        let marker = sandbox.path("inputs")
        let file = try sandbox.write(
            "inputs.yaml",
            """
            nodes:
              - name: binary
                run: printf 'x\\000y'
              - name: reader
                needs: [binary]
                run: echo "$FLOW_INPUTS" > '\(marker)'; touch "$FLOW_INPUTS/left-by-a-node"; od -An -c "$FLOW_INPUTS/binary" | tr -d ' \\n'
            """)
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 0, "\(run)")
        let output = try await sandbox.run(["output", "inputs", "reader"])
        #expect(output.stdout == #"x\0y"#, "\(output)")
        let directory = try #require(sandbox.lines("inputs").first)
        #expect(directory.contains("flowctl-inputs-"))
        #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) was left behind")
    }

    @Test("A node killed by a signal fails with the signal's name")
    func killedBySignal() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "signal.yaml", "nodes:\n  - name: doomed\n    run: echo going >&2; kill -KILL $$\n")
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 1, "\(run)")
        let error = try await sandbox.nodes("signal")["doomed"]?["error"] as? String
        #expect(error == "killed by SIGKILL: going", "\(String(describing: error))")
    }

    @Test("A node that ignores SIGTERM gets SIGKILL, with its whole group, after the grace period")
    func timeoutEscalatesToKill() async throws {
        let sandbox = try Sandbox()
        let marker = sandbox.path("stubborn")
        // `trap '' TERM` is inherited by the `sleep`s, so only SIGKILL ends them.
        let file = try sandbox.write(
            "stubborn.yaml",
            """
            nodes:
              - name: stubborn
                run: trap '' TERM; sleep 300 & echo $! > '\(marker)'; while true; do sleep 1; done
                timeout: 1s
            """)
        let run = try await sandbox.run(["run", file], timeout: .seconds(60))
        #expect(run.status == 1, "\(run)")
        let error = try await sandbox.nodes("stubborn")["stubborn"]?["error"] as? String
        #expect(error?.contains("timed out") == true, "\(String(describing: error))")
        let grandchild = try #require(pid(in: sandbox, "stubborn"))
        #expect(await poll(timeout: .seconds(10)) { !isRunning(grandchild) }, "sleep \(grandchild) survived")
    }

    @Test("A process outside the node's group that keeps its stdout open does not hold the node forever")
    func escapedProcessHoldingThePipe() async throws {
        let sandbox = try Sandbox()
        let marker = sandbox.path("escaped")
        // setsid puts the sleep in a session of its own: no group signal reaches it, and it
        // holds the node's stdout and stderr. flowctl gives up on the pipes after SIGTERM, the
        // grace period and SIGKILL to the group, and the node ends with its shell's status.
        let file = try sandbox.write(
            "escape.yaml",
            """
            nodes:
              - name: leaky
                run: setsid sh -c 'echo $$ > "$0"; exec sleep 300' '\(marker)' & sleep 0.5; echo done
            """)
        let run = try await sandbox.run(["run", file], timeout: .seconds(60))
        let escaped = pid(in: sandbox, "escaped")
        defer { if let escaped { kill(escaped, SIGKILL) } }
        #expect(run.status == 0, "\(run)")
        #expect(try await sandbox.nodes("escape")["leaky"]?["status"] as? String == "completed")
        let output = try await sandbox.run(["output", "escape", "leaky"])
        #expect(output.stdout == "done\n", "\(output)")
    }

    @Test("SIGINT with many nodes running stops them all and records each interrupted")
    func interruptManyChildren() async throws {
        let sandbox = try Sandbox()
        let count = 8
        var yaml = "concurrency: \(count)\nnodes:\n"
        for i in 0..<count {
            yaml += "  - name: s\(i)\n    run: sleep 300 & echo $! > '\(sandbox.path("s\(i)"))'; wait\n"
        }
        let file = try sandbox.write("sleepers.yaml", yaml)
        let running = try sandbox.start(["run", file, "--quiet"])
        #expect(await poll { (0..<count).allSatisfy { pid(in: sandbox, "s\($0)") != nil } }, "nodes never started")
        let sleepers = (0..<count).compactMap { pid(in: sandbox, "s\($0)") }
        try #require(sleepers.count == count)
        running.signal(SIGINT)
        let outcome = try await running.wait(timeout: .seconds(30))
        #expect(outcome.status == 130, "\(outcome)")
        for sleeper in sleepers {
            #expect(await poll(timeout: .seconds(10)) { !isRunning(sleeper) }, "sleep \(sleeper) survived")
        }
        let nodes = try await sandbox.nodes("sleepers")
        #expect(nodes.values.allSatisfy { $0["status"] as? String == "interrupted" }, "\(nodes)")
    }

    @Test("A second SIGINT kills every node's group at once and exits 130")
    func secondInterruptKills() async throws {
        let sandbox = try Sandbox()
        var yaml = "concurrency: 3\nnodes:\n"
        for i in 0..<3 {
            yaml += "  - name: t\(i)\n    run: trap '' TERM; sleep 300 & echo $! > '\(sandbox.path("t\(i)"))'; wait\n"
        }
        let file = try sandbox.write("stubborn3.yaml", yaml)
        let running = try sandbox.start(["run", file])
        #expect(await poll { (0..<3).allSatisfy { pid(in: sandbox, "t\($0)") != nil } }, "nodes never started")
        let sleepers = (0..<3).compactMap { pid(in: sandbox, "t\($0)") }
        try #require(sleepers.count == 3)
        // The first stops the run: SIGTERM, which the nodes ignore (their grace is 5 s).
        running.signal(SIGINT)
        // The second once flowctl has taken the first (it says so), not after a guessed delay.
        #expect(await poll { running.stderrSoFar.contains("interrupt again to kill them") }, "first SIGINT not seen")
        running.signal(SIGINT)
        let outcome = try await running.wait(timeout: .seconds(30))
        #expect(outcome.status == 130, "\(outcome)")
        #expect(outcome.stderr.contains("interrupted again: killing the running nodes"), "\(outcome)")
        for sleeper in sleepers {
            #expect(await poll(timeout: .seconds(10)) { !isRunning(sleeper) }, "sleep \(sleeper) survived")
        }
    }
}
