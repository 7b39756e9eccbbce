import Foundation
import Testing

/// The inspection commands and the exit codes of usage and store errors.
@Suite("flowctl commands")
struct CommandTests {
    @Test("usage errors exit 2, a missing workflow exits 3, each with one line")
    func exitCodes() async throws {
        let sandbox = try Sandbox()
        let unknown = try await sandbox.run(["frobnicate"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("flowctl: error: "), "\(unknown)")
        let conflicting = try await sandbox.run(["reset", "x"])
        #expect(conflicting.status == 2, "\(conflicting)")
        let missing = try await sandbox.run(["status", "nope"])
        #expect(missing.status == 3, "\(missing)")
        #expect(missing.stderr == "flowctl: error: workflow default/nope not found in \(sandbox.store)\n")
        let noFile = try await sandbox.run(["run", "absent.yaml"])
        #expect(noFile.status == 2)
        #expect(noFile.stderr == "flowctl: error: absent.yaml: cannot read the file: No such file or directory\n")
    }

    @Test("--help and help COMMAND print the help on stdout and exit 0", arguments: [["--help"], ["help", "history"], ["history", "--help"]])
    func help(_ arguments: [String]) async throws {
        let sandbox = try Sandbox()
        let help = try await sandbox.run(arguments)
        #expect(help.status == 0, "\(help)")
        #expect(help.stderr.isEmpty, "\(help)")
        #expect(help.stdout.contains("USAGE: flowctl"), "\(help)")
        #expect(help.stdout.contains(arguments == ["--help"] ? "watch" : "--at <seq>"), "\(help)")
    }

    @Test("list filters and pages; graph draws DOT and Mermaid; --tenant and --store apply")
    func listAndGraph() async throws {
        let sandbox = try Sandbox()
        for (id, command) in [("ok-1", "true"), ("ok-2", "true"), ("bad-1", "false")] {
            let file = try sandbox.write("\(id).yaml", "nodes:\n  - name: only\n    run: \(command)\n")
            _ = try await sandbox.run(["run", file, "--quiet"])
        }
        let all = try await sandbox.run(["list"])
        #expect(all.stdout.split(separator: "\n").count == 4, "\(all)")
        let failed = try await sandbox.run(["list", "--status", "failed", "--quiet"])
        #expect(failed.stdout == "default/bad-1\n", "\(failed)")
        let prefixed = try await sandbox.run(["list", "--prefix", "ok-", "--limit", "1", "--quiet"])
        #expect(prefixed.stdout == "default/ok-1\n", "\(prefixed)")
        #expect(prefixed.stderr.contains("--cursor default/ok-1"), "\(prefixed)")
        let next = try await sandbox.run(["list", "--prefix", "ok-", "--cursor", "default/ok-1", "--quiet"])
        #expect(next.stdout == "default/ok-2\n", "\(next)")
        let recent = try await sandbox.run(["list", "--since", "1h", "--quiet"])
        #expect(recent.stdout.split(separator: "\n").count == 3, "\(recent)")

        let other = try sandbox.write("t.yaml", "nodes:\n  - name: only\n    run: true\n")
        let tenantRun = try await sandbox.run(["run", other, "--tenant", "acme", "--store", sandbox.path("elsewhere")])
        #expect(tenantRun.status == 0, "\(tenantRun)")
        #expect(FileManager.default.fileExists(atPath: sandbox.path("elsewhere/acme/t")))

        let dot = try await sandbox.run(["graph", "bad-1"])
        #expect(dot.stdout.contains(##""only" [label="only\nfailed", fillcolor="#ffcdd2""##), "\(dot)")
        let mermaid = try await sandbox.run(["graph", "ok-1", "--format", "mermaid"])
        #expect(mermaid.stdout.contains("class n0 completed"), "\(mermaid)")
        let fromFile = try await sandbox.run(["graph", other])
        #expect(fromFile.status == 0 && fromFile.stdout.hasPrefix("digraph \"t\""), "\(fromFile)")

        // PNG goes through the first `dot` on PATH; without one, a clear usage error.
        let noDot = try await sandbox.run(["graph", "ok-1", "--format", "png"], environment: ["PATH": sandbox.path("empty")])
        #expect(noDot.status == 2, "\(noDot)")
        #expect(noDot.stderr.contains("needs Graphviz's `dot` on PATH"), "\(noDot)")
        try FileManager.default.createDirectory(atPath: sandbox.path("bin"), withIntermediateDirectories: true)
        let fakeDot = try sandbox.write("bin/dot", "#!/bin/sh\n[ \"$1\" = -Tpng ] && [ \"$2\" = -o ] && cat > \"$3\"\n")
        #expect(chmod(fakeDot, 0o755) == 0)
        let png = try await sandbox.run(
            ["graph", "ok-1", "--format", "png", "-o", sandbox.path("g.png")],
            environment: ["PATH": sandbox.path("bin") + ":/usr/bin:/bin"])
        #expect(png.status == 0, "\(png)")
        let drawn = try String(contentsOfFile: sandbox.path("g.png"), encoding: .utf8)
        #expect(drawn.hasPrefix("digraph \"ok-1\""), "dot got the DOT text: \(drawn)")
    }
}

/// The shipped examples run as `Examples/README.md` says.
@Suite("flowctl examples")
struct ExampleTests {
    static let examples: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Examples")

    @Test("every example completes", arguments: ["hello.yaml", "release.json", "wordcount.yaml"])
    func example(_ name: String) async throws {
        let sandbox = try Sandbox()
        let run = try await sandbox.run(["run", Self.examples.appendingPathComponent(name).path])
        #expect(run.status == 0, "\(run)")
        let id = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
        let expected: (node: String, output: String) =
            switch id {
            case "hello": ("report", "THE QUICK BROWN FOX: 3 lines, 11 words\n")
            case "release": ("announce", "released v1.4.2 on staging (key default/release/upload), checksum 2678671414\n")
            default: ("total", "108 words\n")
            }
        let output = try await sandbox.run(["output", id, expected.node])
        #expect(output.stdout == expected.output, "\(output)")
    }
}

/// Store maintenance: `verify` and `gc`, and what `run` says about a changed graph.
@Suite("flowctl store maintenance")
struct MaintenanceTests {
    @Test("verify finds a damaged snapshot (exit 3); gc deletes finished workflows by age")
    func verifyAndGC() async throws {
        let sandbox = try Sandbox()
        for id in ["keep", "damaged"] {
            let file = try sandbox.write("\(id).yaml", "nodes:\n  - name: only\n    run: echo \(id)\n")
            #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        }
        let sound = try await sandbox.run(["verify"])
        #expect(sound.status == 0, "\(sound)")
        #expect(sound.stdout.contains("is sound: 2 workflows"), "\(sound)")

        let directory = sandbox.store + "/default/damaged"
        let snapshot = try #require(
            try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix("snapshot") })
        try Data("not a snapshot".utf8).write(to: URL(fileURLWithPath: directory + "/" + snapshot))
        let damaged = try await sandbox.run(["verify"])
        #expect(damaged.status == 3, "\(damaged)")
        #expect(damaged.stdout.contains(directory + "/" + snapshot), "\(damaged)")
        let show = try await sandbox.run(["show", "damaged"])
        #expect(show.status == 3 && show.stderr.hasPrefix("flowctl: error: "), "\(show)")
        #expect(show.stderr.split(separator: "\n").count == 1, "\(show)")

        let young = try await sandbox.run(["gc", "--older-than", "1h"])
        #expect(young.stdout.hasSuffix("deleted 0 workflows\n"), "\(young)")
        let all = try await sandbox.run(["gc", "--older-than", "0s"])
        #expect(all.stdout.contains("deleted default/keep"), "\(all)")
        #expect(try await sandbox.run(["status", "keep"]).status == 3)
    }

    @Test("run of a changed graph over an unfinished workflow points at --restart")
    func changedGraph() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("g.yaml", "nodes:\n  - name: a\n    run: exit 1\n")
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 1)
        #expect(try await sandbox.run(["reset", "g", "--failed"]).status == 0)
        try sandbox.write("g.yaml", "nodes:\n  - name: a\n    run: true\n  - name: b\n    run: true\n")
        let changed = try await sandbox.run(["run", file])
        #expect(changed.status == 3, "\(changed)")
        #expect(changed.stderr.contains("--restart"), "\(changed)")
        let restarted = try await sandbox.run(["run", file, "--restart", "--quiet"])
        #expect(restarted.status == 0, "\(restarted)")
        #expect(restarted.stdout.split(separator: "\n").count == 1, "--quiet prints the final line only: \(restarted)")
    }
}
