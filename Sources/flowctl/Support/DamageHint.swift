import FlowOrchestrator

/// Recognises the error of a journal damaged before its tail and says how to repair it.
enum DamageHint {
    /// Whether `error` is a journal damaged before its tail: what `salvage` repairs.
    static func isSalvageable(_ error: FlowError) -> Bool {
        guard error.code == .corruptData, error.offset != nil, let path = error.path else { return false }
        return path.hasSuffix("/journal.log") && !path.contains("/history/")
    }

    /// `flowctl salvage ID` (with `--tenant` when it is not the default) for the workflow whose
    /// journal is at `path` (`STORE/TENANT/ID/journal.log`).
    static func command(forJournal path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 1] == "journal.log" else { return nil }
        let id = parts[parts.count - 2]
        let tenant = parts[parts.count - 3]
        return tenant == Substring(WorkflowKey.defaultTenant)
            ? "flowctl salvage \(id)" : "flowctl salvage --tenant \(tenant) \(id)"
    }

    /// The hint added to a report of such damage.
    static func hint(forJournal path: String) -> String {
        guard let command = command(forJournal: path) else { return "" }
        return "; `\(command)` keeps only those and drops the rest"
    }
}
