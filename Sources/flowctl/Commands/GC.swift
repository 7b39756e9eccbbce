import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl gc --older-than 7d`: deletes finished workflows not changed for a while.
struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete finished (completed, failed, cancelled) workflows older than an age.",
        discussion: """
            Workflows a running flowctl holds are left alone. Without --tenant, every tenant is             swept. A workflow whose files cannot be read (a damaged journal or snapshot) is judged             by its summary: finished before the age, it is deleted too, and the line says it was             damaged.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The age: a duration like 12h or 7d.", valueName: "age"))
    var olderThan: String

    @Flag(name: .long, help: "Only list what would be deleted.")
    var dryRun = false

    func validate() throws {
        guard DurationText.parse(olderThan) != nil else {
            throw ValidationError("--older-than \(TextFormat.quoted(olderThan)): expected \(DurationText.expected)")
        }
    }

    func run() async throws {
        let store = try global.openStore()
        let cutoff = Date().addingTimeInterval(-DurationText.parse(olderThan)!.secondsValue)
        var removed: [String] = []
        let candidates = try await store.listAll(
            WorkflowQuery(tenant: global.tenant, statuses: [.completed, .failed, .cancelled])
        ).filter { $0.updatedAt < cutoff }
        // The library's purge confirms each candidate from its full state, so it passes over a
        // workflow it cannot read: those are found, and deleted, here.
        var damaged: Set<String> = []
        for summary in candidates {
            let key = try WorkflowKey(tenant: summary.tenant, id: summary.id)
            do {
                _ = try await store.load(key)
            } catch let error as FlowError where error.code == .corruptData || error.code == .unsupportedFormat {
                if !dryRun {
                    do {
                        try await store.delete(key)
                    } catch let error as FlowError where error.code == .locked {
                        continue
                    }
                }
                damaged.insert(key.description)
                removed.append("\(key) (it was damaged: \(TextFormat.oneLine(error.description, limit: 300)))")
            }
        }
        if dryRun {
            removed += candidates.map { "\($0.tenant)/\($0.id)" }.filter { !damaged.contains($0) }
        } else {
            removed += try await store.purge(finishedBefore: cutoff, tenant: global.tenant).map(\.description)
        }
        if !global.quiet { for key in removed { Terminal.out("\(dryRun ? "would delete" : "deleted") \(key)\n") } }
        Terminal.out("\(dryRun ? "would delete" : "deleted") \(removed.count) workflow\(removed.count == 1 ? "" : "s")\n")
    }
}
