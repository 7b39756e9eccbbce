import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The defects of issue 13, each end to end through the flowctl binary.
@Suite("flowctl hardening")
struct HardeningTests {
    /// How many times `part` occurs in `text`.
    static func occurrences(of part: String, in text: String) -> Int {
        text.components(separatedBy: part).count - 1
    }

    /// Every number that follows "offset " or "at " in `text`.
    static func offsets(in text: String) -> [Int] {
        var found: [Int] = []
        for word in ["offset ", "at "] {
            var rest = Substring(text)
            while let range = rest.range(of: word) {
                rest = rest[range.upperBound...]
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                if let value = Int(digits) { found.append(value) }
            }
        }
        return found
    }

    /// The file offsets of the frames of the journal at `path` (after its 24-byte header).
    static func frameOffsets(_ path: String) throws -> [Int] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var offsets: [Int] = []
        var offset = 24
        while offset + 8 <= bytes.count {
            offsets.append(offset)
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offset += 8 + (length + 7) / 8 * 8
        }
        return offsets
    }

    /// Flips one byte of the payload of the journal frame at `frame`.
    static func flip(_ path: String, inFrameAt frame: Int) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[frame + 8 + 12] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    // MARK: 1. Daemons

    @Test("setsid with redirected stdio, as Examples/README says: every one of 10 daemons outlives its node")
    func daemonsSurvive() async throws {
        let sandbox = try Sandbox()
        let marks = sandbox.path("marks")
        var yaml = "concurrency: 10\nnodes:\n"
        for index in 0..<10 {
            yaml += "  - name: d\(index)\n    run: setsid sh -c 'sleep 1; echo alive >> \"$0\"' '\(marks)' >/dev/null 2>&1 </dev/null & echo started\n"
        }
        let file = try sandbox.write("daemons.yaml", yaml)
        let run = try await sandbox.run(["run", file, "--quiet"])
        #expect(run.status == 0, "\(run)")
        let survived = await poll(timeout: .seconds(20)) { sandbox.lines("marks").count == 10 }
        #expect(survived, "\(sandbox.lines("marks").count) of 10 daemons survived their node")
    }

    @Test("a process the shell left holding the node's stdout still gets SIGTERM when the shell exits")
    func leftoverHoldingThePipeIsStopped() async throws {
        let sandbox = try Sandbox()
        let marker = sandbox.path("leftover")
        let file = try sandbox.write(
            "leftover.yaml", "nodes:\n  - name: a\n    run: sleep 300 & echo $! > '\(marker)'; echo done\n")
        let run = try await sandbox.run(["run", file, "--quiet"])
        #expect(run.status == 0, "\(run)")
        let sleeper = try #require(pid(in: sandbox, "leftover"))
        #expect(await poll(timeout: .seconds(10)) { !isRunning(sleeper) }, "sleep \(sleeper) survived")
        #expect(try await sandbox.run(["output", "leftover", "a"]).stdout == "done\n")
    }

    // MARK: 2. A damaged journal

    @Test("a journal damaged in the middle: named as such, listed damaged, repaired by salvage; --restart and gc work on it")
    func damagedJournal() async throws {
        let sandbox = try Sandbox()
        let yaml = "nodes:\n  - name: a\n    run: echo a\n  - name: b\n    needs: [a]\n    run: echo b\n  - name: c\n    needs: [b]\n    run: echo c\n"
        let file = try sandbox.write("dmg.yaml", yaml)
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        let directory = sandbox.store + "/default/dmg"
        let journal = directory + "/journal.log"
        let frames = try Self.frameOffsets(journal)
        try #require(frames.count >= 6, "\(frames)")
        // The fourth record (b's start) is damaged; the ones after it are valid. The three before
        // it leave no attempt open, so a resume runs b and c (an open one would count as crashed).
        try Self.flip(journal, inFrameAt: frames[3])
        let pristine = sandbox.path("damaged-copy")
        try FileManager.default.copyItem(atPath: directory, toPath: pristine)
        func damageAgain() throws {
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.copyItem(atPath: pristine, toPath: directory)
        }

        let verify = try await sandbox.run(["verify"])
        #expect(verify.status == 3, "\(verify)")
        #expect(!verify.stdout.contains("damaged tail"), "\(verify)")
        #expect(verify.stdout.contains("damaged at offset \(frames[3]) ("), "\(verify)")
        #expect(verify.stdout.contains("with valid records after it; 3 records before it are intact"), "\(verify)")
        #expect(verify.stdout.contains("`flowctl salvage dmg`"), "\(verify)")

        for command in [["status", "dmg"], ["history", "dmg"], ["resume", "dmg"], ["reset", "dmg", "--failed"]] {
            let outcome = try await sandbox.run(command)
            #expect(outcome.status == 3, "\(command): \(outcome)")
            #expect(outcome.stderr.contains("`flowctl salvage dmg` keeps only those"), "\(command): \(outcome)")
            #expect(!outcome.stderr.contains("open with salvage"), "\(command): \(outcome)")
            #expect(Self.occurrences(of: "damaged at offset", in: outcome.stderr) == 1, "\(outcome)")
        }

        let list = try await sandbox.run(["list"])
        #expect(list.status == 0, "\(list)")
        let row = list.stdout.split(separator: "\n").first { $0.contains(" dmg ") }
        #expect(row?.contains("damaged") == true, "\(list)")
        #expect(row?.contains("completed") == false, "\(list)")
        #expect(list.stderr.contains("flowctl salvage dmg"), "\(list)")

        let salvage = try await sandbox.run(["salvage", "dmg"])
        #expect(salvage.status == 0, "\(salvage)")
        #expect(salvage.stdout.contains("kept events 1-3"), "\(salvage)")
        #expect(salvage.stdout.contains("from offset \(frames[3])"), "\(salvage)")
        #expect(try await sandbox.run(["verify"]).status == 0)
        let status = try await sandbox.run(["status", "dmg"])
        #expect(status.status == 0, "\(status)")
        #expect(try await sandbox.run(["resume", "dmg", "--quiet"]).status == 0)
        #expect(try await sandbox.show("dmg")["status"] as? String == "completed")
        let again = try await sandbox.run(["salvage", "dmg"])
        #expect(again.status == 0 && again.stdout.contains("not damaged"), "\(again)")

        try damageAgain()
        let restart = try await sandbox.run(["run", file, "--restart", "--quiet"])
        #expect(restart.status == 0, "\(restart)")
        #expect(try await sandbox.show("dmg")["status"] as? String == "completed")

        try damageAgain()
        let gc = try await sandbox.run(["gc", "--older-than", "0s"])
        #expect(gc.status == 0, "\(gc)")
        #expect(gc.stdout.contains("deleted default/dmg (it was damaged"), "\(gc)")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    // MARK: 3. A second interrupt

    @Test("a second SIGINT kills a node that ignores signals and still records the run's end")
    func secondInterruptRecords() async throws {
        let sandbox = try Sandbox()
        let marker = sandbox.path("stubborn")
        let file = try sandbox.write(
            "stubborn.yaml",
            """
            nodes:
              - name: s
                run: trap '' TERM INT; sleep 30 & echo $! > '\(marker)'; wait
              - name: t
                needs: [s]
                run: echo t
            """)
        let running = try sandbox.start(["run", file])
        #expect(await poll { pid(in: sandbox, "stubborn") != nil }, "the node never started")
        let sleeper = try #require(pid(in: sandbox, "stubborn"))
        running.signal(SIGINT)
        // The second signal must arrive after the first was taken (two pending SIGINTs are one).
        #expect(await poll { running.stderrSoFar.contains("interrupted: stopping the running nodes") })
        running.signal(SIGINT)
        let outcome = try await running.wait(timeout: .seconds(30))
        #expect(outcome.status == 130, "\(outcome)")
        #expect(outcome.stderr.contains("interrupted again: killing the running nodes"), "\(outcome)")
        #expect(outcome.stdout.contains("workflow stubborn interrupted"), "the final line: \(outcome)")
        #expect(await poll(timeout: .seconds(10)) { !isRunning(sleeper) }, "sleep \(sleeper) survived")

        // An interruption of the running process records `interrupted` (issue 12), which resumes.
        let state = try await sandbox.show("stubborn")
        #expect(state["status"] as? String == "interrupted", "\(state)")
        let nodes = try await sandbox.nodes("stubborn")
        #expect(nodes["s"]?["status"] as? String == "interrupted", "\(nodes)")
        #expect(nodes["t"]?["status"] as? String == "pending", "\(nodes)")
        let history = try await sandbox.run(["history", "stubborn"])
        #expect(history.stdout.contains("workflow.finished interrupted"), "\(history)")
        #expect(history.stdout.contains("node.interrupted s"), "\(history)")
        let list = try await sandbox.run(["list"])
        #expect(!list.stdout.contains("running"), "\(list)")
        let watch = try await sandbox.run(["watch", "stubborn"], timeout: .seconds(30))
        #expect(watch.stdout.contains("workflow.finished"), "\(watch)")
    }

    // MARK: 5. A symlinked workflow directory

    @Test("run --restart through a symlinked workflow directory removes the link, not its target's files; .trash is cleaned")
    func restartThroughSymlink() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("sym.yaml", "nodes:\n  - name: a\n    run: echo a\n")
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        let directory = sandbox.store + "/default/sym"
        let elsewhere = sandbox.path("elsewhere")
        try FileManager.default.moveItem(atPath: directory, toPath: elsewhere)
        try FileManager.default.createSymbolicLink(atPath: directory, withDestinationPath: elsewhere)
        #expect(try await sandbox.run(["status", "sym"]).status == 0, "readable through the link")

        let restart = try await sandbox.run(["run", file, "--restart", "--quiet"])
        #expect(restart.status == 0, "\(restart)")
        #expect(try await sandbox.show("sym")["status"] as? String == "completed")
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/snapshot.fb.zst"), "the link's target was emptied")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect(attributes[.type] as? FileAttributeType == .typeDirectory, "a fresh directory, not the link")
        let trash = sandbox.store + "/.trash"
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).isEmpty)

        // A link an older flowctl left in .trash is removed by the next command; its target stays.
        let kept = sandbox.path("kept")
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        try sandbox.write("kept/file", "precious")
        try FileManager.default.createDirectory(atPath: trash, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: trash + "/default~old~1", withDestinationPath: kept)
        #expect(try await sandbox.run(["list"]).status == 0)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).isEmpty)
        #expect(sandbox.lines("kept/file") == ["precious"])
    }

    // MARK: 6. One cause, said once

    @Test("a full disk is said once, with exit 3", .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func diskFullSaidOnce() async throws {
        let sandbox = try Sandbox()
        let mountPoint = sandbox.path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        func mount(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/mount")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        try #require(try mount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint]) == 0, "cannot mount a tmpfs")
        defer {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/umount")
            process.arguments = [mountPoint]
            try? process.run()
            process.waitUntilExit()
        }
        let file = try sandbox.write(
            "full.yaml",
            "nodes:\n  - name: big\n    run: head -c 600000 /dev/zero | tr '\\\\0' a\n  - name: after\n    needs: [big]\n    run: echo after\n")
        let run = try await sandbox.run(["run", file, "--store", mountPoint + "/store", "--max-output", "4M", "--quiet"])
        #expect(run.status == 3, "\(run)")
        #expect(Self.occurrences(of: "No space left on device", in: run.stderr) == 1, "\(run)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run)")
    }

    @Test("dump of a directory and a workflow directory deleted mid-run: one cause, said once; dependents never start")
    func otherCausesSaidOnce() async throws {
        let sandbox = try Sandbox()
        let dump = try await sandbox.run(["dump", sandbox.root.path])
        #expect(dump.status == 3, "\(dump)")
        #expect(dump.stderr.contains("is a directory"), "\(dump)")
        #expect(Self.occurrences(of: "directory", in: dump.stderr) <= 2, "\(dump)")
        #expect(!dump.stderr.contains("errno 21) ("), "\(dump)")

        let file = try sandbox.write(
            "del.yaml",
            """
            nodes:
              - name: a
                run: rm -rf "$FLOW_STORE/default/del"; echo a
              - name: b
                needs: [a]
                run: touch '\(sandbox.path("b-ran"))'; echo b
            """)
        let run = try await sandbox.run(["run", file, "--quiet"])
        #expect(run.status == 3, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.path("b-ran")), "b started after a's end could not be written")
        #expect(run.stderr.contains("journal.log"), "\(run)")
        #expect(Self.occurrences(of: "journal.log", in: run.stderr) == 1, "\(run)")
        #expect(Self.occurrences(of: "No such file or directory", in: run.stderr) <= 1, "\(run)")
    }

    // MARK: 7. File offsets

    @Test("dump and verify give the same file offset for a bad frame, and no other")
    func offsetsAgree() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("off.yaml", "nodes:\n  - name: a\n    run: echo a\n  - name: b\n    run: echo b\n")
        #expect(try await sandbox.run(["run", file, "--quiet"]).status == 0)
        let journal = sandbox.store + "/default/off/journal.log"
        let frames = try Self.frameOffsets(journal)
        try #require(frames.count >= 3)

        // Cut to 30 bytes: the first frame (at 24) is torn.
        let cut = sandbox.path("cut.log")
        try Data(try Data(contentsOf: URL(fileURLWithPath: journal)).prefix(30)).write(to: URL(fileURLWithPath: cut))
        let dumped = try await sandbox.run(["dump", cut, "--compact"])
        #expect(dumped.status == 0, "\(dumped)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(dumped.stdout.utf8)) as? [String: Any])
        let damage = try #require(object["damage"] as? [String: Any])
        #expect(damage["offset"] as? Int == 24)
        let message = damage["message"] as? String ?? ""
        #expect(Self.offsets(in: message).allSatisfy { $0 == 24 }, "\(message)")

        // A bad checksum in the last frame: verify and dump name its file offset, only it.
        let last = frames[frames.count - 1]
        try Self.flip(journal, inFrameAt: last)
        let verify = try await sandbox.run(["verify"])
        #expect(verify.stdout.contains("offset \(last)"), "\(verify)")
        #expect(Self.offsets(in: verify.stdout).allSatisfy { $0 == last }, "\(verify)")
        let dumpedLast = try await sandbox.run(["dump", journal, "--compact"])
        let lastObject = try #require(try JSONSerialization.jsonObject(with: Data(dumpedLast.stdout.utf8)) as? [String: Any])
        let lastDamage = try #require(lastObject["damage"] as? [String: Any])
        #expect(lastDamage["offset"] as? Int == last)
        #expect(Self.offsets(in: lastDamage["message"] as? String ?? "").allSatisfy { $0 == last }, "\(lastDamage)")
    }

    // MARK: 8. show --at without events

    @Test("show --at on a workflow run with --persist end says so, as history does")
    func showAtWithoutEvents() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("end.yaml", "nodes:\n  - name: a\n    run: echo a\n")
        #expect(try await sandbox.run(["run", file, "--persist", "end", "--quiet"]).status == 0)
        let show = try await sandbox.run(["show", "end", "--at", "1"])
        #expect(show.status == 3, "\(show)")
        #expect(show.stderr.contains("--persist end"), "\(show)")
        #expect(!show.stderr.contains("compacted"), "\(show)")
        let history = try await sandbox.run(["history", "end"])
        #expect(history.stderr == show.stderr, "\(history)\n\(show)")
    }

    // MARK: 9. Smaller ones

    @Test("list --cursor garbage and --max-output 0 are usage errors that say what is wrong")
    func badOptions() async throws {
        let sandbox = try Sandbox()
        let cursor = try await sandbox.run(["list", "--cursor", "garbage"])
        #expect(cursor.status == 2, "\(cursor)")
        #expect(cursor.stderr.contains("--cursor \"garbage\" is not a cursor"), "\(cursor)")
        let file = try sandbox.write("one.yaml", "nodes:\n  - name: a\n    run: echo a\n")
        let output = try await sandbox.run(["run", file, "--max-output", "0"])
        #expect(output.status == 2, "\(output)")
        #expect(output.stderr.contains("--max-output must be at least 1 byte"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.store + "/default/one"))
    }

    @Test("global options work before the subcommand too")
    func globalOptionsFirst() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("first.yaml", "nodes:\n  - name: a\n    run: echo a\n")
        let other = sandbox.path("other-store")
        let run = try await sandbox.run(["--store", other, "--tenant", "t1", "-q", "run", file])
        #expect(run.status == 0, "\(run)")
        #expect(FileManager.default.fileExists(atPath: other + "/t1/first/snapshot.fb.zst"), "\(run)")
        let status = try await sandbox.run(["--store=\(other)", "--tenant", "t1", "status", "first"])
        #expect(status.status == 0, "\(status)")
        #expect(try await sandbox.run(["--store", other, "list", "-q"]).stdout == "t1/first\n")
    }

    @Test("run's progress lines print UTC, whatever TZ says")
    func progressInUTC() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("utc.yaml", "nodes:\n  - name: a\n    run: echo a\n")
        // Kathmandu is 5:45 ahead of UTC: no rounding of hours hides a local time.
        let run = try await sandbox.run(["run", file], environment: ["TZ": "Asia/Kathmandu"])
        #expect(run.status == 0, "\(run)")
        let first = try #require(run.stdout.split(separator: "\n").first)
        let parts = first.prefix(8).split(separator: ":").compactMap { Int($0) }
        try #require(parts.count == 3, "\(first)")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let now = calendar.dateComponents([.hour, .minute, .second], from: Date())
        let printed = parts[0] * 3600 + parts[1] * 60 + parts[2]
        let utc = (now.hour ?? 0) * 3600 + (now.minute ?? 0) * 60 + (now.second ?? 0)
        let apart = abs(printed - utc)
        #expect(min(apart, 86_400 - apart) < 120, "printed \(first), UTC now \(now)")
    }
}
