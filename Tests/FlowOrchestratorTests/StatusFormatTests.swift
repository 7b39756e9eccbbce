import FBSchema
import Foundation
import Testing

@testable import FlowOrchestrator

/// The statuses of this wave on disk: they round-trip through every store, and a status or
/// event kind this version does not know is `newerFormat` naming the file, never `corruptData`.
@Suite("Statuses on disk")
struct StatusFormatTests {
    /// A state using every new status, a reason, a recovery count and retry budgets.
    private func newStatusState() -> WorkflowState {
        var state = WorkflowState(
            id: "new-statuses", tenant: "acme", fingerprint: "fnv1a64:0000000000000001",
            nodeNames: ["w", "b", "i", "c", "cf", "run"],
            createdAt: Date(microsecondsSince1970: 1_700_000_000_000_000))
        state.updatedAt = state.createdAt
        state.status = .interrupted
        state.reason = "recovery limit: ünïcödé"
        state.recoveries = 3
        let statuses: [NodeStatus] = [.waiting, .bypassed, .interrupted, .compensated, .compensationFailed, .running]
        for (index, status) in statuses.enumerated() { state.nodes[index].status = status }
        state.nodes[5].attempts = 4
        state.nodes[5].countedAttempts = 2
        state.nodes[5].crashedAttempts = 1
        state.nodes[5].attemptOpen = true
        return state
    }

    @Test("new statuses, the reason, recoveries and budgets round-trip through every store", arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let state = newStatusState()
        let store = try kind.open(directory.path)
        try await put(state, in: store)
        let loaded = try await kind.open(directory.path).load(WorkflowKey(tenant: "acme", id: "new-statuses"))
        #expect(loaded == state)
        #expect(loaded.nodes[5].countedAttempts == 2 && loaded.nodes[5].crashedAttempts == 1 && loaded.nodes[5].attemptOpen)
        let summary = try #require(try await store.list(WorkflowQuery()).items.first)
        #expect(summary.status == .interrupted)
        #expect(summary.reason == "recovery limit: ünïcödé")
        #expect(summary.nodeCounts[.compensationFailed] == 1 && summary.nodeCounts[.waiting] == 1)
    }

    @Test("names parse back for every status")
    func names() {
        for status in NodeStatus.allCases { #expect(NodeStatus(name: status.description) == status) }
        for status in WorkflowStatus.allCases { #expect(WorkflowStatus(name: status.description) == status) }
        #expect(NodeStatus.compensationFailed.description == "compensation_failed")
        #expect(!NodeStatus.interrupted.isFinished && !WorkflowStatus.interrupted.isFinished)
        #expect(NodeStatus.bypassed.isFinished && WorkflowStatus.compensated.isFinished)
    }

    @Test("a snapshot with a node status this version does not know is newerFormat naming the file")
    func newerNodeStatusInSnapshot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let state = newStatusState()
        try await put(state, in: store)
        // Two encodings that differ in one node's status locate its byte.
        var other = state
        other.nodes[1].status = .failed
        var raw = try SnapshotEncoding.flatBuffer(state)
        let changed = try SnapshotEncoding.flatBuffer(other)
        let differences = raw.indices.filter { raw[$0] != changed[$0] }
        try #require(differences.count == 1)
        raw[differences[0]] = UInt8(NodeStatus.allCases.count)  // the first value past the known ones
        let file = try raw.withUnsafeBytes { try Zstd.compress($0, level: 1, threads: 1, scratch: ScratchPool()) }
        let path = "\(directory.path)/acme/new-statuses/snapshot.fb.zst"
        try Data(file).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) {
            try await FlatBuffersStore(directory: directory.path).load(WorkflowKey(tenant: "acme", id: "new-statuses"))
        }
        #expect(error?.code == .newerFormat, "\(String(describing: error))")
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
    }

    @Test("a JSON state or summary with a status this version does not know is newerFormat naming the file")
    func newerStatusInJSON() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try JSONFileStore(directory: directory.path)
        try await put(newStatusState(), in: store)
        let folder = "\(directory.path)/acme/new-statuses"
        let statePath = "\(folder)/state.json"
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: statePath))) as? [String: Any])
        object["status"] = 200
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: statePath))
        let error = await #expect(throws: FlowError.self) {
            try await JSONFileStore(directory: directory.path).load(WorkflowKey(tenant: "acme", id: "new-statuses"))
        }
        #expect(error?.code == .newerFormat, "\(String(describing: error))")
        #expect(error?.message.contains(statePath) == true, "\(error?.message ?? "")")

        let summaryPath = "\(folder)/summary.json"
        var summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath))) as? [String: Any])
        summary["status"] = "hibernating"
        let bytes = try JSONSerialization.data(withJSONObject: summary)
        let buffer = AlignedBuffer(count: bytes.count)
        bytes.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
        let summaryError = #expect(throws: FlowError.self) {
            try JSONSnapshotFormat().decodeSummary(buffer, path: summaryPath)
        }
        #expect(summaryError?.code == .newerFormat, "\(String(describing: summaryError))")
        #expect(summaryError?.message.contains(summaryPath) == true)
    }

    @Test("a summary with a workflow status this version does not know is newerFormat")
    func newerStatusInSummary() async throws {
        let format = FlatBuffersSnapshotFormat(compressionLevel: nil, maxSnapshotBytes: 1 << 20)
        var summary = WorkflowSummary(newStatusState())
        summary.status = .running
        var a = try format.encodeSummary(summary)
        summary.status = .failed
        let b = try format.encodeSummary(summary)
        let differences = a.indices.filter { a[$0] != b[$0] }
        try #require(differences.count == 1)
        a[differences[0]] = UInt8(WorkflowStatus.allCases.count)
        let buffer = AlignedBuffer(count: a.count)
        a.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
        let error = #expect(throws: FlowError.self) { try format.decodeSummary(buffer, path: "/x/summary.fb") }
        #expect(error?.code == .newerFormat, "\(String(describing: error))")
        #expect(error?.message.contains("/x/summary.fb") == true)
    }

    @Test("a journal record of a kind this version does not know is newerFormat naming the file, and the file is kept")
    func newerEventKindInJournal() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        let options = ExecutionOptions(persistence: .node, durability: .buffered)
        let store = try FlatBuffersStore(directory: directory.path)
        _ = try await Workflow(id: "journaled", dag: dag, store: store, options: options).execute()
        let path = "\(directory.path)/default/journaled/journal.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // The last frame is the run's workflow.finished record: give it a kind from the future.
        var frame = Int(FBS_JOURNAL_HEADER_SIZE)
        var last = frame
        while frame + 8 <= bytes.count {
            let length = Int(bytes[frame]) | Int(bytes[frame + 1]) << 8 | Int(bytes[frame + 2]) << 16 | Int(bytes[frame + 3]) << 24
            guard length > 0 else { break }
            last = frame
            frame += (8 + length + 7) & ~7
        }
        let length = Int(bytes[last]) | Int(bytes[last + 1]) << 8 | Int(bytes[last + 2]) << 16 | Int(bytes[last + 3]) << 24
        let payload = last + 8
        try #require(kindOffset(in: bytes, payload: payload).map { bytes[$0] } == 9)  // workflow.finished
        bytes[try #require(kindOffset(in: bytes, payload: payload))] = UInt8(WorkflowEvent.Kind.allCases.count)
        let crc = bytes[payload..<(payload + length)].withContiguousStorageIfAvailable {
            fbs_crc32c($0.baseAddress, $0.count, 0)
        }!
        for shift in 0..<4 { bytes[last + 4 + shift] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(shift))) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let error = await #expect(throws: FlowError.self) {
            try await FlatBuffersStore(directory: directory.path).load(WorkflowKey(id: "journaled"))
        }
        #expect(error?.code == .newerFormat, "\(String(describing: error))")
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
        // Not taken for a damaged tail: nothing was cut off.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == bytes.count)
    }

    /// Saves `state` through a writer of its own.
    private func put(_ state: WorkflowState, in store: any WorkflowStore) async throws {
        let writer = try await store.acquireWriter(try WorkflowKey(tenant: state.tenant, id: state.id))
        do {
            try await writer.save(state, durability: .buffered)
        } catch {
            await writer.release()
            throw error
        }
        await writer.release()
    }

    /// The offset of the `kind` field of the Record table whose FlatBuffer starts at `payload`,
    /// nil when the field holds its default and is left out.
    private func kindOffset(in bytes: [UInt8], payload: Int) -> Int? {
        func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        let table = payload + u32(payload)
        let vtable = table - Int(Int32(truncatingIfNeeded: u32(table)))
        let slot = 4 + 2 * 2  // kind is the Record's third field
        guard slot < u16(vtable) else { return nil }
        let field = u16(vtable + slot)
        return field == 0 ? nil : table + field
    }
}
