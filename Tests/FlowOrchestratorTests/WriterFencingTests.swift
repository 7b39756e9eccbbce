import Foundation
import Testing

@testable import FlowOrchestrator

/// Writers and fencing epochs (ADR 5): every acquisition raises the epoch, and a writer whose
/// epoch is no longer the workflow's writes nothing.
@Suite("Writer fencing")
struct WriterFencingTests {
    private let key = try! WorkflowKey(tenant: "acme", id: "fenced")

    private func state(nodes: Int = 3) -> WorkflowState {
        WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: (0..<nodes).map { "n\($0)" })
    }

    private func started(_ sequence: UInt64, node: Int) -> WorkflowEvent {
        WorkflowEvent(
            sequence: sequence, time: Date(microsecondsSince1970: 1_000_000 + Int64(sequence)),
            change: .nodeStarted(node: "n\(node)", attempt: 1), nodeIndex: Int32(node))
    }

    /// Every file under `directory` with its bytes.
    private func files(in directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = "\(directory)/\(name)"
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
        return files
    }

    private func expectStale(_ error: FlowError?, old: UInt64, new: UInt64) {
        #expect(error?.code == .staleWriter)
        #expect(error?.message.contains("workflow \(key)") == true)
        #expect(error?.message.contains("epoch \(old)") == true)
        #expect(error?.message.contains("epoch \(new)") == true)
    }

    @Test("A fenced-off FlatBuffers writer's save and append are refused, files byte-identical")
    func flatBuffersStaleWriter() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let old = try await store.acquireWriter(key)
        try await old.save(state(), durability: .fsync)
        try await old.append([started(1, node: 0)], durability: .fsync)
        // A second writer that skipped the lock (as another program might) raises the epoch.
        let new = try store.acquireWriter(key, ignoringLock: true)
        #expect(new.epoch == old.epoch + 1)
        let before = try files(in: store.directory(for: key))
        #expect(before["journal.log"] != nil && before["lock"] != nil)

        let append = await #expect(throws: FlowError.self) {
            try await old.append([started(2, node: 1)], durability: .fsync)
        }
        expectStale(append, old: old.epoch, new: new.epoch)
        let buffered = await #expect(throws: FlowError.self) {
            try await old.append([started(2, node: 1)], durability: .buffered)
        }
        expectStale(buffered, old: old.epoch, new: new.epoch)
        var replaced = state()
        replaced.lastSequence = 5
        let save = await #expect(throws: FlowError.self) { try await old.save(replaced, durability: .fsync) }
        expectStale(save, old: old.epoch, new: new.epoch)
        #expect(try files(in: store.directory(for: key)) == before)

        // The current writer carries on from what is stored.
        try await new.append([started(2, node: 1)], durability: .fsync)
        await new.release()
        await old.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key).lastSequence == 2)
    }

    @Test("A fenced-off JSON writer's save is refused, files byte-identical")
    func jsonStaleWriter() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try JSONFileStore(directory: directory.path)
        let old = try await store.acquireWriter(key)
        try await old.save(state(), durability: .fsync)
        let new = try store.acquireWriterIgnoringLock(key)
        #expect(new.epoch == old.epoch + 1)
        let before = try files(in: store.directory(for: key))
        var replaced = state()
        replaced.lastSequence = 5
        let save = await #expect(throws: FlowError.self) { try await old.save(replaced, durability: .fsync) }
        expectStale(save, old: old.epoch, new: new.epoch)
        #expect(try files(in: store.directory(for: key)) == before)
        try await new.save(replaced, durability: .fsync)
        #expect(try await store.load(key).lastSequence == 5)
        await new.release()
        await old.release()
    }

    @Test("A fenced-off in-memory writer's save and append are refused, the state unchanged")
    func inMemoryStaleWriter() async throws {
        let store = InMemoryStore()
        let old = try await store.acquireWriter(key)
        try await old.save(state(), durability: .fsync)
        try await old.append([started(1, node: 0)], durability: .fsync)
        let new = try store.acquireWriter(key, ignoringHolder: true)
        #expect(new.epoch == old.epoch + 1)
        let before = try await store.load(key)
        let append = await #expect(throws: FlowError.self) {
            try await old.append([started(2, node: 1)], durability: .fsync)
        }
        expectStale(append, old: old.epoch, new: new.epoch)
        let save = await #expect(throws: FlowError.self) { try await old.save(state(), durability: .fsync) }
        expectStale(save, old: old.epoch, new: new.epoch)
        #expect(try await store.load(key) == before)
        try await new.append([started(2, node: 1)], durability: .fsync)
        #expect(try await store.load(key).lastSequence == 2)
    }

    @Test("Every acquisition raises the epoch, also across store objects (it is on disk)", arguments: [StoreKind.json, .flatbuffers])
    func epochsRise(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var epochs: [UInt64] = []
        for _ in 0..<3 {
            let store = try kind.open(directory.path)
            let writer = try await store.acquireWriter(key)
            try await writer.save(state(), durability: .buffered)
            epochs.append(writer.epoch)
            await writer.release()
        }
        // A transaction acquires the writers too.
        try await kind.open(directory.path).saveAll([state()])
        let writer = try await kind.open(directory.path).acquireWriter(key)
        epochs.append(writer.epoch)
        await writer.release()
        #expect(epochs == [1, 2, 3, 5])
        let lock = try String(contentsOfFile: "\(directory.path)/acme/fenced/lock", encoding: .utf8)
        #expect(lock == "epoch 5\npid \(getpid())\n")
    }

    @Test("A released writer writes nothing", arguments: [StoreKind.json, .flatbuffers])
    func releasedWriter(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        let writer = try await store.acquireWriter(key)
        try await writer.save(state(), durability: .buffered)
        await writer.release()
        let error = await #expect(throws: FlowError.self) { try await writer.save(state(), durability: .buffered) }
        #expect(error?.code == .writerStopped)
    }

    @Test("A writer saves only its own workflow")
    func wrongWorkflow() async throws {
        let store = InMemoryStore()
        let writer = try await store.acquireWriter(key)
        let other = WorkflowState(id: "other", tenant: key.tenant, fingerprint: "fp", nodeNames: [])
        let error = await #expect(throws: FlowError.self) { try await writer.save(other, durability: .buffered) }
        #expect(error?.code == .invalidArgument)
        await writer.release()
    }

    @Test("A lock file from before epochs starts the epoch at 1 and names the holder")
    func oldLockFile() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        try FileManager.default.createDirectory(atPath: store.directory(for: key), withIntermediateDirectories: true)
        try "pid 12345\n".write(toFile: "\(store.directory(for: key))/lock", atomically: true, encoding: .utf8)
        let writer = try await store.acquireWriter(key)
        #expect(writer.epoch == 1)
        let error = await #expect(throws: FlowError.self) { _ = try await store.acquireWriter(key) }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("pid \(getpid())") == true)
        await writer.release()
    }
}
