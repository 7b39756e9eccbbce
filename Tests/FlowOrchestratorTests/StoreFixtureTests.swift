import Foundation
import Testing

@testable import FlowOrchestrator

/// The store committed in `Fixtures/store-v1/store`: written once by the code of format version 1
/// (see `Fixtures/store-v1/README.md`) and opened by every later version. A format change that
/// makes these tests fail must migrate the old files instead (docs/format.md, "Upgrades").
enum StoreFixtureV1 {
    static let directory = "\(packageRoot)/Tests/FlowOrchestratorTests/Fixtures/store-v1/store"

    struct Order: Codable, Equatable { var id: String; var amount: Int }

    /// `default/orders`: fetch → count (fails once, then retries), audit → publish, journaled
    /// with compaction every 8 records so that `history/` holds earlier epochs; then `publish`
    /// is reset, marked completed by hand, and the workflow run again (finishing at once).
    static func ordersDAG(failFirstCount: Bool = false) throws -> DAG {
        var dag = DAG()
        try dag.addNode("fetch") { context in
            try await context.setValue(Data("warehouse".utf8), forKey: "source")
            return try .json([Order(id: "A-1", amount: 30), Order(id: "A-2", amount: 12)])
        }
        try dag.addNode(
            "count", dependsOn: ["fetch"],
            retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1), jitter: 0)
        ) { context in
            if failFirstCount, context.attempt == 1 { throw FixtureError.busy }
            return .text("2")
        }
        try dag.addNode("audit", dependsOn: ["fetch"]) { _ in .text("ok") }
        try dag.addNode("publish", dependsOn: ["count", "audit"]) { _ in .text("published") }
        return dag
    }

    /// `acme/broken`: one node that always fails.
    static func brokenDAG(fails: Bool = false) throws -> DAG {
        var dag = DAG()
        try dag.addNode("only") { _ in
            if fails { throw FixtureError.diskOnFire }
            return .text("fixed")
        }
        return dag
    }

    /// `default/quick`: persisted once at the end, so it has a snapshot and no journal.
    static func quickDAG() throws -> DAG {
        var dag = DAG()
        try dag.addNode("a") { _ in .text("A") }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .text("B") }
        return dag
    }

    enum FixtureError: Error, CustomStringConvertible {
        case busy, diskOnFire
        var description: String { self == .busy ? "warehouse busy" : "disk on fire" }
    }

    static let storeOptions = FlatBuffersStore.Options(compactAfterRecords: 8)

    static func options(_ persistence: PersistenceStrategy) -> ExecutionOptions {
        ExecutionOptions(maxConcurrency: 1, scheduling: .dependencies, persistence: persistence, durability: .fsync)
    }

    /// Writes the fixture store into `directory` (which must not hold one yet).
    static func write(to directory: String) async throws {
        let store = try FlatBuffersStore(directory: directory, options: storeOptions)
        let orders = Workflow(
            key: try WorkflowKey(id: "orders"), dag: try ordersDAG(failFirstCount: true), store: store, options: options(.node))
        let run = try await orders.execute(input: Data(#"{"day":"2026-12-03"}"#.utf8))
        precondition(run.status == .completed)
        try await orders.reset(node: "publish")
        try await orders.markCompleted(node: "publish", output: Data("by hand".utf8))
        let again = try await orders.execute()
        precondition(again.status == .completed)

        let broken = Workflow(
            key: try WorkflowKey(tenant: "acme", id: "broken"), dag: try brokenDAG(fails: true), store: store, options: options(.node))
        let brokenRun = try await broken.execute()
        precondition(brokenRun.status == .failed)

        let quick = Workflow(key: try WorkflowKey(id: "quick"), dag: try quickDAG(), store: store, options: options(.end))
        let quickRun = try await quick.execute()
        precondition(quickRun.status == .completed)
    }
}

@Suite("Store fixture of format version 1")
struct StoreFixtureTests {
    /// Regenerates the fixture: `FLOW_WRITE_FIXTURE=/tmp/store swift test --filter StoreFixtureTests`,
    /// then copy the workflow directories into Fixtures/store-v1/store. Only for a new format
    /// version's fixture; the committed one must never be rewritten.
    @Test(
        "write the fixture store",
        .enabled(if: ProcessInfo.processInfo.environment["FLOW_WRITE_FIXTURE"] != nil))
    func writeFixture() async throws {
        try await StoreFixtureV1.write(to: ProcessInfo.processInfo.environment["FLOW_WRITE_FIXTURE"]!)
    }
}

/// Reading the committed version-1 store with today's code: every call an embedding program or
/// flowctl makes on an existing store, checked against what the fixture holds.
@Suite("Store of format version 1 opens with this code")
struct StoreFixtureV1Tests {
    /// A copy of the fixture in a temporary directory (opening a store may write: locks, a
    /// transaction to finish), and the store on it.
    private func open() throws -> (FlatBuffersStore, TemporaryDirectory) {
        let directory = TemporaryDirectory()
        let (status, output) = try shell("cp -a '\(StoreFixtureV1.directory)/.' '\(directory.path)/'")
        #expect(status == 0, "\(output)")
        return (try FlatBuffersStore(directory: directory.path, options: StoreFixtureV1.storeOptions), directory)
    }

    private let orders = try! WorkflowKey(id: "orders")
    private let broken = try! WorkflowKey(tenant: "acme", id: "broken")
    private let quick = try! WorkflowKey(id: "quick")

    /// One event as a line of the fields it carries, so the expectations below read like
    /// `flowctl history`.
    private func line(_ event: WorkflowEvent) -> String {
        var parts = ["\(event.sequence)", "\(event.kind)"]
        if let node = event.node { parts.append(node) }
        let fields = event.change.fields
        if fields.attempt > 0 { parts.append("attempt \(fields.attempt)") }
        if let status = fields.status { parts.append("\(status)") }
        if let key = fields.key { parts.append("key \(key)") }
        if let payload = fields.payload { parts.append("= \(String(decoding: payload, as: UTF8.self))") }
        if let error = fields.error { parts.append("error \(error)") }
        if fields.delayMicroseconds > 0 { parts.append("delay \(fields.delayMicroseconds)us") }
        return parts.joined(separator: " ")
    }

    private let ordersOutput = #"[{"amount":30,"id":"A-1"},{"amount":12,"id":"A-2"}]"#

    private var ordersHistory: [String] {
        [
            "1 workflow.started running",
            "2 node.started fetch attempt 1",
            "3 data.set key source = warehouse",
            "4 node.completed fetch = \(ordersOutput)",
            "5 node.started count attempt 1",
            "6 node.retried count attempt 1 error warehouse busy delay 1000us",
            "7 node.started count attempt 2",
            "8 node.completed count = 2",
            "9 node.started audit attempt 1",
            "10 node.completed audit = ok",
            "11 node.started publish attempt 1",
            "12 node.completed publish = published",
            "13 workflow.finished completed",
            "14 node.reset publish",
            "15 node.marked_completed publish = by hand",
            "16 workflow.started running",
            "17 workflow.finished completed",
        ]
    }

    @Test("load: every workflow's state, node by node")
    func load() async throws {
        let (store, directory) = try open()
        defer { directory.cleanup() }

        let state = try await store.load(orders)
        #expect(state.formatVersion == 1)
        #expect(state.status == .completed)
        #expect(state.lastSequence == 17)
        #expect(state.input == Data(#"{"day":"2026-12-03"}"#.utf8))
        #expect(state.definition == nil)
        #expect(state.fingerprint == (try StoreFixtureV1.ordersDAG()).fingerprint)
        #expect(state.data == ["source": Data("warehouse".utf8)])
        #expect(state.nodes.map(\.name) == ["fetch", "count", "audit", "publish"])
        #expect(state.nodes.map(\.status) == [.completed, .completed, .completed, .completed])
        #expect(state.nodes.map(\.attempts) == [1, 2, 1, 1])
        #expect(state.nodes.map { $0.output.map { String(decoding: $0, as: UTF8.self) } } == [ordersOutput, "2", "ok", "by hand"])
        #expect(state.nodes.map(\.lastError) == [nil, nil, nil, nil])
        #expect(state.createdAt.microsecondsSince1970 == 1_796_309_249_053_239)
        #expect(state.updatedAt.microsecondsSince1970 == 1_796_309_249_200_780)

        let failed = try await store.load(broken)
        #expect(failed.status == .failed)
        #expect(failed.lastSequence == 4)
        #expect(failed.fingerprint == (try StoreFixtureV1.brokenDAG()).fingerprint)
        #expect(failed.nodes.map(\.status) == [.failed])
        #expect(failed[node: "only"]?.lastError == "disk on fire")
        #expect(failed.updatedAt.microsecondsSince1970 == 1_796_309_249_364_574)

        let done = try await store.load(quick)
        #expect(done.status == .completed)
        #expect(done.lastSequence == 6)
        #expect(done.nodes.map { $0.output.map { String(decoding: $0, as: UTF8.self) } } == ["A", "B"])
    }

    @Test("list: the summaries, with filters")
    func list() async throws {
        let (store, directory) = try open()
        defer { directory.cleanup() }
        let all = try await store.listAll()
        #expect(all.map { "\($0.tenant)/\($0.id)" } == ["acme/broken", "default/orders", "default/quick"])
        #expect(all.map(\.status) == [.failed, .completed, .completed])
        #expect(all.map(\.nodeCount) == [1, 4, 2])
        #expect(all.map { $0.nodeCounts[.completed] ?? 0 } == [0, 4, 2])
        #expect(all.map(\.lastSequence) == [4, 17, 6])
        #expect(all.allSatisfy { $0.storedBytes > 0 })
        let failed = try await store.listAll(WorkflowQuery(statuses: [.failed]))
        #expect(failed.map(\.id) == ["broken"])
        #expect(try await store.listAll(WorkflowQuery(tenant: "default")).map(\.id) == ["orders", "quick"])
        #expect(try await store.verify().isEmpty)
    }

    @Test("history: the journal and the epochs compaction archived")
    func history() async throws {
        let (store, directory) = try open()
        defer { directory.cleanup() }
        let events = try await store.history(orders)
        #expect(events.map(line) == ordersHistory)
        #expect(events.first?.time.microsecondsSince1970 == 1_796_309_249_073_192)
        #expect(events.last?.time.microsecondsSince1970 == 1_796_309_249_200_780)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.time <= $1.time })
        #expect(try await store.history(orders, from: 8, limit: 3).map(\.sequence) == [8, 9, 10])

        #expect(
            try await store.history(broken).map(line) == [
                "1 workflow.started running", "2 node.started only attempt 1",
                "3 node.failed only error disk on fire", "4 workflow.finished failed",
            ])

        // Persisted once at the end: a state, no events.
        let error = await #expect(throws: FlowError.self) { try await store.history(quick) }
        #expect(error?.code == .historyUnavailable)
        #expect(error?.message.contains("events 1 to 6 are not in its history: they were never journaled") == true, "\(String(describing: error))")
    }

    @Test("state(at:): past states from the archived snapshots and journals")
    func timeTravel() async throws {
        let (store, directory) = try open()
        defer { directory.cleanup() }
        let start = try await store.state(orders, at: 0)
        #expect(start.lastSequence == 0)
        #expect(start.nodes.map(\.status) == [.pending, .pending, .pending, .pending])
        #expect(start.data.isEmpty)

        let fetched = try await store.state(orders, at: 4)
        #expect(fetched.status == .running)
        #expect(fetched.nodes.map(\.status) == [.completed, .pending, .pending, .pending])
        #expect(fetched.data == ["source": Data("warehouse".utf8)])

        let retrying = try await store.state(orders, at: 6)
        #expect(retrying[node: "count"]?.attempts == 1)
        #expect(retrying[node: "count"]?.lastError == "warehouse busy")

        let firstRun = try await store.state(orders, at: 13)
        #expect(firstRun.status == .completed)
        #expect(firstRun[node: "publish"]?.output == Data("published".utf8))

        let reset = try await store.state(orders, at: 14)
        #expect(reset[node: "publish"]?.status == .pending)
        #expect(reset[node: "publish"]?.output == nil)

        #expect(try await store.state(orders, at: 17) == (try await store.load(orders)))
    }

    @Test("an old workflow resumes: a completed one runs nothing, a repaired one finishes in the old journal")
    func resume() async throws {
        let (store, directory) = try open()
        defer { directory.cleanup() }
        let options = StoreFixtureV1.options(.node)
        let done = Workflow(key: try WorkflowKey(id: "orders"), dag: try StoreFixtureV1.ordersDAG(), store: store, options: options)
        let result = try await done.execute()
        #expect(result.status == .completed)
        #expect(try await store.load(orders).lastSequence == 17)

        let repaired = Workflow(
            key: try WorkflowKey(tenant: "acme", id: "broken"), dag: try StoreFixtureV1.brokenDAG(), store: store, options: options)
        try await repaired.resetFailedNodes()
        #expect(try await repaired.execute().status == .completed)
        let state = try await store.load(broken)
        #expect(state[node: "only"]?.output == Data("fixed".utf8))
        let history = try await store.history(broken)
        #expect(history.prefix(4).map(\.sequence) == [1, 2, 3, 4])
        #expect(history.dropFirst(4).map { "\($0.kind)" }.prefix(2) == ["node.reset", "workflow.started"])
        #expect(history.last.map { "\($0.kind)" } == "workflow.finished")
    }
}
