import Foundation
import Testing

@testable import FlowOrchestrator

/// Creating a workflow in a FlatBuffers store costs at most three syncs, and what it writes is
/// all a reader and the first append need (ADR 13).
@Suite("Creation syncs")
struct CreationSyncTests {
    private func state(_ key: WorkflowKey) -> WorkflowState {
        WorkflowState(
            id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: ["a", "b"], input: Data("in".utf8),
            createdAt: Date(microsecondsSince1970: 1_000_000))
    }

    @Test("a new workflow in a tenant in use: at most 3 fsync/fdatasync calls, then loadable, listed and appendable")
    func threeSyncs() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let first = try WorkflowKey(tenant: "acme", id: "first")
        try await store.withWriter(first) { try await $0.save(state(first), durability: .fsync) }
        let key = try WorkflowKey(tenant: "acme", id: "second")
        let before = layer.syncCalls
        let writer = try await store.acquireWriter(key)
        try await writer.save(state(key), durability: .fsync)
        let syncs = layer.syncCalls - before
        #expect(syncs >= 1 && syncs <= 3, "creation made \(syncs) syncs")
        // A second writer of the same workflow (its lock file exists) syncs its raised epoch.
        await writer.release()
        let beforeSecond = layer.syncCalls
        let again = try await store.acquireWriter(key)
        #expect(layer.syncCalls - beforeSecond == 1)
        // What it wrote is a workflow: another store object loads and lists it.
        let other = try FlatBuffersStore(directory: directory.path)
        #expect(try await other.load(key) == state(key))
        #expect(try await other.list(WorkflowQuery(tenant: "acme")).items.map(\.id) == ["first", "second"])
        // The first append makes the journal; the records reopen.
        let started = WorkflowEvent(sequence: 1, time: Date(microsecondsSince1970: 5), change: .workflowStarted(status: .running))
        try await again.append([started], durability: .fsync)
        await again.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key).lastSequence == 1)
        #expect(try await FlatBuffersStore(directory: directory.path).verify() == [])
    }

    @Test("a summary lost after creation (it is not synced) is read from the snapshot")
    func lostSummary() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let key = try WorkflowKey(tenant: "acme", id: "wf")
        try await store.withWriter(key) { try await $0.save(state(key), durability: .fsync) }
        let summary = store.directory(for: key) + "/summary.fb"
        #expect(FileManager.default.fileExists(atPath: summary))
        try FileManager.default.removeItem(atPath: summary)
        let page = try await FlatBuffersStore(directory: directory.path).list(WorkflowQuery(tenant: "acme"))
        #expect(page.items.map(\.id) == ["wf"])
        #expect(page.items.first?.nodeCounts[.pending] == 2)
    }

    @Test("a buffered first append makes the journal without a directory sync; the first fsync append syncs the directory")
    func bufferedFirstAppend() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let key = try WorkflowKey(tenant: "acme", id: "wf")
        let writer = try await store.acquireWriter(key)
        try await writer.save(state(key), durability: .fsync)
        func event(_ sequence: UInt64) -> WorkflowEvent {
            WorkflowEvent(
                sequence: sequence, time: Date(microsecondsSince1970: Int64(sequence)),
                change: .nodeStarted(node: "a", attempt: Int(sequence)), nodeIndex: 0)
        }
        var before = layer.syncCalls
        try await writer.append([event(1)], durability: .buffered)
        #expect(layer.syncCalls - before == 2, "the new journal's header and the summary's temporary file, no directory")
        before = layer.syncCalls
        try await writer.append([event(2)], durability: .fsync)
        #expect(layer.syncCalls - before == 2, "the directory, then the records")
        before = layer.syncCalls
        try await writer.append([event(3)], durability: .fsync)
        #expect(layer.syncCalls - before == 1, "the records only")
        await writer.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key).lastSequence == 3)
    }
}
