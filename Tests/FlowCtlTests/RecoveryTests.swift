import Foundation
import Testing

/// Retry budgets and the recovery limit across crashes of flowctl itself (SIGKILL from a node).
@Suite("flowctl recovery after crashes")
struct RecoveryTests {
    @Test("a node that kills flowctl with SIGKILL runs at most its attempts across any number of resumes, then fails naming the interrupted attempts")
    func poisonNode() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        let file = try sandbox.write(
            "poison.yaml",
            """
            nodes:
              - name: poison
                run: echo ran >> '\(marks)'; kill -9 $PPID; sleep 30
                retry: { attempts: 2, backoff: 10ms }
            """)
        let run = try await sandbox.run(["run", file])
        #expect(run.status == 128 + 9, "\(run)")
        var outcomes: [CLIOutcome] = []
        for _ in 0..<5 {
            outcomes.append(try await sandbox.run(["resume", "poison"]))
        }
        // The first resume runs attempt 2 (killed again); every later one fails the workflow.
        #expect(outcomes.map(\.status) == [137, 1, 1, 1, 1], "\(outcomes)")
        #expect(sandbox.lines("marks").count == 2, "the node ran \(sandbox.lines("marks").count) times")
        let failing = outcomes[1]
        #expect(failing.stdout.contains("interrupted by a crash") || failing.stderr.contains("interrupted by a crash"), "\(failing)")
        let state = try await sandbox.show("poison")
        #expect(state["status"] as? String == "failed")
        let node = try #require(try await sandbox.nodes("poison")["poison"])
        #expect(node["status"] as? String == "failed")
        let error = node["error"] as? String ?? ""
        #expect(error.contains("attempt 2 of 2 was interrupted by a crash"), "\(error)")
        #expect(error.contains("2 attempts interrupted"), "\(error)")
        let status = try await sandbox.run(["status", "poison"])
        #expect(status.stdout.contains("attempt 2 of 2 was interrupted by a crash"), "\(status)")
    }

    @Test("a workflow recovered more than the recovery limit fails with the reason, shown by status, show and list")
    func recoveryLimit() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        let file = try sandbox.write(
            "looping.yaml",
            """
            nodes:
              - name: poison
                run: echo ran >> '\(marks)'; kill -9 $PPID; sleep 30
                retry: { attempts: 100, backoff: 10ms }
            """)
        #expect(try await sandbox.run(["run", file]).status == 137)
        var statuses: [Int32] = []
        for _ in 0..<7 {
            statuses.append(try await sandbox.run(["resume", "looping"]).status)
        }
        // Five recoveries (the default limit) crash; the sixth fails the workflow.
        #expect(statuses == [137, 137, 137, 137, 137, 1, 1], "\(statuses)")
        #expect(sandbox.lines("marks").count == 6)
        let state = try await sandbox.show("looping")
        #expect(state["status"] as? String == "failed")
        let reason = state["reason"] as? String ?? ""
        #expect(reason.hasPrefix("recovery limit"), "\(state)")
        let status = try await sandbox.run(["status", "looping"])
        #expect(status.stdout.contains("reason: recovery limit"), "\(status)")
        let list = try await sandbox.run(["list"])
        #expect(list.stdout.contains("REASON") && list.stdout.contains("recovery limit"), "\(list)")
    }
}
