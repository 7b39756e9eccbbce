import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl salvage ID`: repairs a workflow whose journal is damaged before its tail.
struct Salvage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repair a workflow whose journal is damaged: keep the records before the damage, drop the rest.",
        discussion: """
            A journal damaged in the middle (valid records after the damage) cannot be read, so \
            every other command refuses the workflow. salvage keeps the intact records before \
            the damage, cuts the journal there, rewrites the snapshot and summary from what was \
            kept, and says what it dropped. The workflow is then as it was at the last kept \
            event: `resume ID` runs what is left (a node whose end was dropped runs again), \
            `run --restart` starts over. A workflow that is not damaged is left as it is.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The workflow ID.", valueName: "id"))
    var id: String

    func run() async throws {
        let store = try global.openStore()
        let key = try global.key(id)
        do {
            let state = try await store.load(key)
            Terminal.out("workflow \(key) is not damaged (\(state.status), \(state.lastSequence) events): nothing to salvage\n")
            return
        } catch let error as FlowError where DamageHint.isSalvageable(error) {
            // Go on: this is what salvage is for.
        }
        let journal = store.directory(for: key) + "/journal.log"
        let size = (try? FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int) ?? 0
        let damage = try FlatBuffersStore.damageBeforeTail(ofJournal: journal)
        let salvaging: FlatBuffersStore
        do {
            salvaging = try FlatBuffersStore(directory: store.directory, options: .init(salvage: true))
        } catch {
            throw CLIError(.storeOrData, "cannot open store \(store.directory): \(SystemError.describe(error))")
        }
        let writer = try await salvaging.acquireWriter(key)
        let kept: WorkflowState
        do {
            kept = try await salvaging.load(key)
            // Opening the journal for writing cuts it at the damage (synced); the save then
            // rewrites the snapshot and summary from what was kept.
            try await writer.append([], durability: .fsync)
            try await writer.save(kept, durability: .fsync)
        } catch {
            await writer.release()
            throw error
        }
        await writer.release()
        let events = kept.lastSequence == 0 ? "no events" : kept.lastSequence == 1 ? "event 1" : "events 1-\(kept.lastSequence)"
        let dropped = damage.map {
            "; dropped \(TextFormat.bytes(max(size - $0.offset, 0))) of journal.log from offset \($0.offset) (\($0.message)) to its end, the damage and every record after it"
        } ?? ""
        let completed = kept.nodes.filter { $0.status == .completed }.count
        Terminal.out(
            "workflow \(key) salvaged: kept \(events)\(dropped); now \(kept.status), \(completed)/\(kept.nodes.count) nodes completed\n")
    }
}
