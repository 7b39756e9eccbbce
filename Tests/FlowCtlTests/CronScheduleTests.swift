import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flowctl schedule add|list|remove` and workers starting the slots, with real processes.
@Suite("flowctl schedules")
struct CronScheduleTests {
    @Test("an interval of one second run by two workers: each slot's node runs exactly once, no slot missed")
    func everySecondTwoWorkers() async throws {
        let sandbox = try Sandbox()
        let log = sandbox.path("slots.log")
        let file = try sandbox.write(
            "tick.yaml",
            """
            id: tick
            nodes:
              - name: mark
                run: echo "$FLOW_WORKFLOW_ID $PPID" >> '\(log)'

            """)
        let added = try await sandbox.run(["schedule", "add", "tick", file, "--every", "1s", "--overlap", "allow"])
        #expect(added.status == 0, "\(added)")
        let listed = try await sandbox.run(["schedule", "list"])
        #expect(listed.status == 0, "\(listed)")
        #expect(listed.stdout.contains("tick") && listed.stdout.contains("every 1s"), "\(listed)")

        let workers = try (0..<2).map { _ in try sandbox.start(["worker", "--grace", "5s"]) }
        // Several seconds of slots: wait until six distinct slots ran.
        let enough = await poll(timeout: .seconds(90)) { Set(sandbox.lines("slots.log").map { $0.split(separator: " ")[0] }).count >= 6 }
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers {
            let outcome = try await worker.wait(timeout: .seconds(60))
            #expect(outcome.status == 0, "\(outcome)")
        }
        #expect(enough, "slots run: \(sandbox.lines("slots.log"))")

        let lines = sandbox.lines("slots.log")
        let ids = lines.map { String($0.split(separator: " ")[0]) }
        // Exactly once: no slot's node ran twice, in one worker or across both.
        #expect(ids.count == Set(ids).count, "a slot ran twice: \(lines)")
        // Every ID is the schedule's name and a UTC second; together they are consecutive seconds.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        let seconds = ids.compactMap { id -> Int? in
            guard id.hasPrefix("tick-"), let date = formatter.date(from: String(id.dropFirst(5))) else { return nil }
            return Int(date.timeIntervalSince1970)
        }.sorted()
        #expect(seconds.count == ids.count, "IDs that are not slot IDs: \(ids)")
        if let first = seconds.first, let last = seconds.last {
            #expect(seconds == Array(first...last), "a slot was missed between the first and the last: \(ids.sorted())")
        }
        // A slot that ran is recorded completed under its ID.
        if let id = ids.first {
            let status = try await sandbox.run(["status", id])
            #expect(status.status == 0, "\(status)")
        }

        let removed = try await sandbox.run(["schedule", "remove", "tick"])
        #expect(removed.status == 0, "\(removed)")
        #expect(try await sandbox.run(["schedule", "list"]).stdout.contains("tick") == false)
        #expect(try await sandbox.run(["schedule", "remove", "tick"]).status == 3)
    }

    @Test("schedule add refuses a bad cron expression naming the field, an unknown zone, and both timings at once")
    func addErrors() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write("d.yaml", "id: d\nnodes:\n  - name: a\n    run: \"true\"\n")
        let badField = try await sandbox.run(["schedule", "add", "n", file, "--cron", "0 25 * * *"])
        #expect(badField.status == 2, "\(badField)")
        #expect(badField.stderr.contains("hour field \"25\""), "\(badField)")
        let badZone = try await sandbox.run(["schedule", "add", "n", file, "--cron", "0 8 * * *", "--tz", "Mars/Olympus"])
        #expect(badZone.status == 2, "\(badZone)")
        let both = try await sandbox.run(["schedule", "add", "n", file, "--cron", "0 8 * * *", "--every", "1m"])
        #expect(both.status == 2, "\(both)")
        let fraction = try await sandbox.run(["schedule", "add", "n", file, "--every", "1500ms"])
        #expect(fraction.status == 2, "\(fraction)")
        let good = try await sandbox.run(["schedule", "add", "nightly", file, "--cron", "30 2 * * MON-FRI", "--tz", "Europe/Berlin"])
        #expect(good.status == 0, "\(good)")
        let listed = try await sandbox.run(["schedule", "list"])
        #expect(listed.stdout.contains("cron 30 2 * * MON-FRI Europe/Berlin"), "\(listed)")
        #expect(listed.stdout.contains("nightly-2"), "\(listed)")
    }
}
