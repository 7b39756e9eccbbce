import Foundation
import Testing

/// `flowctl list` follows a running workflow, and is exact after a crash once verified.
@Suite("flowctl list freshness")
struct ListFreshnessTests {
    /// The NODES column of `list` for `id` ("1/2"), with its STATUS.
    static func row(_ sandbox: Sandbox, _ id: String) async throws -> (status: String, nodes: String)? {
        let list = try await sandbox.run(["list", "--prefix", id])
        guard let line = list.stdout.split(separator: "\n").first(where: { $0.hasPrefix("default") && $0.contains(" \(id) ") })
        else { return nil }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        return fields.count >= 4 ? (fields[2], fields[3]) : nil
    }

    /// Polls `list` (deadline, no fixed delay) until its row for `id` is `status nodes`.
    static func waitForRow(_ sandbox: Sandbox, _ id: String, _ status: String, _ nodes: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let row = try await row(sandbox, id), row.status == status, row.nodes == nodes { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test("list shows a run's progress within a second, and exact counts after kill -9 once verified")
    func progressThenCrash() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "fresh.yaml",
            """
            id: fresh
            nodes:
              - name: first
                run: while [ ! -e '\(sandbox.path("go-first"))' ]; do sleep 0.02; done
              - name: second
                needs: [first]
                run: while [ ! -e '\(sandbox.path("go-second"))' ]; do sleep 0.02; done
            """)
        defer { _ = FileManager.default.createFile(atPath: sandbox.path("go-second"), contents: nil) }
        let run = try sandbox.start(["run", file])
        #expect(try await Self.waitForRow(sandbox, "fresh", "running", "0/2"), "\(run.stderrSoFar)")
        // The summary as it is now (none completed): restored below to stand for a summary whose
        // buffered rewrite a crash lost.
        let summaryPath = sandbox.path("store/default/fresh/summary.fb")
        let stale = try Data(contentsOf: URL(fileURLWithPath: summaryPath))

        _ = FileManager.default.createFile(atPath: sandbox.path("go-first"), contents: nil)
        #expect(try await Self.waitForRow(sandbox, "fresh", "running", "1/2"), "list did not follow the run")

        run.signal(SIGKILL)
        let killed = try await run.wait()
        #expect(killed.status == 128 + SIGKILL, "\(killed)")
        try stale.write(to: URL(fileURLWithPath: summaryPath))
        #expect(try await Self.row(sandbox, "fresh")?.nodes == "0/2", "the stale summary is what list reads")

        let verify = try await sandbox.run(["verify"])
        #expect(verify.status == 0, "\(verify)")
        let row = try await Self.row(sandbox, "fresh")
        #expect(row?.status == "running" && row?.nodes == "1/2", "\(String(describing: row))")
    }
}
