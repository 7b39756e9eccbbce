import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl gc --older-than 7d`: deletes finished workflows not changed for a while.
struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete finished (completed, failed, cancelled) workflows older than an age.",
        discussion: "Workflows a running flowctl holds are left alone. Without --tenant, every tenant is swept.")

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
        let removed: [String]
        if dryRun {
            let all = try await store.listAll(WorkflowQuery(tenant: global.tenant, statuses: [.completed, .failed, .cancelled]))
            removed = all.filter { $0.updatedAt < cutoff }.map { "\($0.tenant)/\($0.id)" }
        } else {
            removed = try await store.purge(finishedBefore: cutoff, tenant: global.tenant).map(\.description)
        }
        if !global.quiet { for key in removed { Terminal.out("\(dryRun ? "would delete" : "deleted") \(key)\n") } }
        Terminal.out("\(dryRun ? "would delete" : "deleted") \(removed.count) workflow\(removed.count == 1 ? "" : "s")\n")
    }
}
