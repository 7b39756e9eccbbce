import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl list`: the stored workflows, filtered and paged.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List stored workflows.",
        discussion: "Without --tenant, every tenant is listed. When more workflows match than --limit, the cursor of the next page is printed on stderr.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Only workflows with this status (repeatable): pending, running, completed, failed, cancelled.", valueName: "status"))
    var status: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only IDs starting with this text.", valueName: "text"))
    var prefix: String?

    @Option(name: .long, help: ArgumentHelp("Only workflows changed since this time: a duration ago (2h, 7d) or an ISO 8601 date.", valueName: "when"))
    var since: String?

    @Option(name: .long, help: "The most workflows to print.")
    var limit = 100

    @Option(name: .long, help: ArgumentHelp("Start after this cursor (printed by the previous page).", valueName: "cursor"))
    var cursor: String?

    func validate() throws {
        for name in status where WorkflowStatus(name: name) == nil {
            throw ValidationError("unknown status \(TextFormat.quoted(name)); use pending, running, completed, failed or cancelled")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let cursor, !Self.isCursor(cursor) {
            throw ValidationError(
                "--cursor \(TextFormat.quoted(cursor)) is not a cursor (TENANT/ID, as the previous page printed)")
        }
        if let since, Self.date(since) == nil {
            throw ValidationError("--since \(TextFormat.quoted(since)) is neither a duration (2h, 7d) nor an ISO 8601 date")
        }
    }

    /// The damage of the journal at `path` when it is damaged before its tail (what `salvage`
    /// repairs), with the command that repairs it; nil when it is sound, torn at its tail (the
    /// next writer cuts that), or missing. The summary a listing shows is a cache written with
    /// each status change: it cannot know that the journal was damaged later, so each listed
    /// workflow's journal frames are checked (their CRCs; no snapshot is read).
    static func journalDamage(_ path: String) -> String? {
        guard let damage = try? FlatBuffersStore.damageBeforeTail(ofJournal: path) else { return nil }
        let repair = DamageHint.command(forJournal: path).map { "; repair it with `\($0)`" } ?? ""
        return "damaged at offset \(damage.offset) (\(damage.message)) with valid records after it\(repair)"
    }

    /// Whether `text` has the shape of a cursor a page prints: `TENANT/ID`, both valid names.
    static func isCursor(_ text: String) -> Bool {
        guard let slash = text.firstIndex(of: "/") else { return false }
        return (try? WorkflowKey(tenant: String(text[..<slash]), id: String(text[text.index(after: slash)...]))) != nil
    }

    /// `text` as an absolute time: a duration before now, or an ISO 8601 date or time.
    static func date(_ text: String) -> Date? {
        if let duration = DurationText.parse(text) { return Date().addingTimeInterval(-duration.secondsValue) }
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let date = try? withFraction.parse(text) { return date }
        return try? Date.ISO8601FormatStyle().year().month().day().parse(text)
    }

    func run() async throws {
        let store = try global.openStore()
        let query = WorkflowQuery(
            tenant: global.tenant, statuses: Set(status.compactMap(WorkflowStatus.init(name:))), idPrefix: prefix,
            updatedSince: since.flatMap(Self.date), limit: limit, cursor: cursor)
        let page = try await store.list(query)
        if global.quiet {
            Terminal.out(page.items.map { "\($0.tenant)/\($0.id)\n" }.joined())
        } else if page.items.isEmpty {
            Terminal.out("no workflows\n")
        } else {
            var rows = [["TENANT", "ID", "STATUS", "NODES", "UPDATED"]]
            var damaged: [String] = []
            for item in page.items {
                let done = item.nodeCounts[.completed] ?? 0
                let key = try WorkflowKey(tenant: item.tenant, id: item.id)
                let broken = Self.journalDamage(store.directory(for: key) + "/journal.log")
                if let broken { damaged.append("flowctl: workflow \(key): journal.log \(broken)") }
                rows.append([
                    item.tenant, item.id, broken == nil ? "\(item.status)" : "damaged", "\(done)/\(item.nodeCount)",
                    TextFormat.iso8601(item.updatedAt),
                ])
            }
            Terminal.out(TextFormat.table(rows) + "\n")
            for line in damaged { Terminal.error(line) }
        }
        if let next = page.nextCursor {
            Terminal.error("more workflows: next page with --cursor \(next)")
        }
    }
}
