import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// Open files stay bounded however many workflows one process runs: writers wait for a slot
/// past `maxWriters`, and journals past `maxOpenJournals` are parked and reopened on demand.
@Suite("Bounded resources")
struct BoundedResourcesTests {
    private func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    @Test("300 workflows in one process under ulimit -n 64 all complete")
    func manyWorkflowsUnderLowFileLimit() async throws {
        let binary = builtExecutable("flow-crashtest")
        try #require(FileManager.default.isExecutableFile(atPath: binary), "flow-crashtest not built at \(binary)")
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = "\(directory.path)/store"
        let child = try Child("/bin/sh", ["-c", "ulimit -n 64 && exec \"$0\" many \"$1\" 300", binary, store])
        #expect(await child.wait() == 0)
        let summaries = try await FlatBuffersStore(directory: store).listAll()
        #expect(summaries.count == 300)
        #expect(summaries.allSatisfy { $0.status == .completed && $0.nodeCounts[.completed] == 3 })
    }

    @Test("journals past maxOpenJournals are parked and reopened by their next write")
    func journalsParked() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(maxOpenJournals: 2))
        let keys = try (0..<6).map { try WorkflowKey(tenant: "acme", id: "wf-\($0)") }
        var writers: [any WorkflowWriter] = []
        for key in keys {
            let writer = try await store.acquireWriter(key)
            try await writer.save(
                WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: ["a"]), durability: .fsync)
            writers.append(writer)
        }
        let before = try openDescriptors()
        for round in 1...3 {
            for writer in writers {
                let event = WorkflowEvent(
                    sequence: UInt64(round), time: .nowMicroseconds(), change: .dataSet(key: "k\(round)", value: Data([1])))
                try await writer.append([event], durability: round == 2 ? .buffered : .fsync)
            }
            // Six writers hold their locks; only two journals may hold a descriptor.
            #expect(try openDescriptors() <= before + 2)
        }
        for writer in writers { await writer.release() }
        let reopened = try FlatBuffersStore(directory: directory.path)
        for key in keys { #expect(try await reopened.load(key).lastSequence == 3) }
        #expect(try await reopened.verify() == [])
    }

    @Test("an acquisition past maxWriters waits for a release, then gets the writer")
    func writersWaitForASlot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(maxWriters: 1))
        let first = try await store.acquireWriter(WorkflowKey(id: "first"))
        let second = Task { try await store.acquireWriter(WorkflowKey(id: "second")) }
        // A different workflow, so no `locked`: it can only be waiting for the slot.
        await first.release()
        let writer = try await second.value
        #expect(writer.key.id == "second")
        await writer.release()
    }
}
