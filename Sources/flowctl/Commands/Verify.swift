import ArgumentParser
import FlowOrchestrator

/// `flowctl verify`: reads every file of the store and reports each problem.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every file of the store; exit 3 when a problem is found.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let store = try global.openStore()
        let problems = try await store.verify()
        let stats = try await store.stats()
        for problem in problems {
            let hint =
                problem.path.hasSuffix("/journal.log") && problem.message.contains("with valid records after it")
                ? DamageHint.hint(forJournal: problem.path) : ""
            Terminal.out("\(problem)\(hint)\n")
        }
        let summary = "\(stats.workflows) workflow\(stats.workflows == 1 ? "" : "s") in \(stats.tenants) tenant\(stats.tenants == 1 ? "" : "s"), \(TextFormat.bytes(stats.bytes))"
        if problems.isEmpty {
            Terminal.out("store \(store.directory) is sound: \(summary)\n")
        } else {
            Terminal.out("store \(store.directory): \(problems.count) problem\(problems.count == 1 ? "" : "s") (\(summary))\n")
            throw ExitStatus.storeOrData.exitCode
        }
    }
}
