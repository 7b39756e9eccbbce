import CZstd
import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case json, flatbuffers, uncompressed

    var testDescription: String { rawValue }

    func open(_ directory: String, layer: any FileLayer = SystemFileLayer()) throws -> any FileWorkflowStore {
        switch self {
        case .json: try JSONFileStore(directory: directory, layer: layer)
        case .flatbuffers: try FlatBuffersStore(directory: directory, options: .init(), layer: layer)
        case .uncompressed:
            try FlatBuffersStore(directory: directory, options: .init(compressionLevel: nil), layer: layer)
        }
    }

    var snapshotName: String {
        switch self {
        case .json: "state.json"
        case .flatbuffers: "snapshot.fb.zst"
        case .uncompressed: "snapshot.fb.zst"
        }
    }
}

/// A state exercising every field: unicode, absent and empty outputs, errors, times, data.
func sampleState(id: String = "wf-1", tenant: String = "acme", bigOutput: Int = 0) -> WorkflowState {
    var state = WorkflowState(
        id: id, tenant: tenant, fingerprint: "fnv1a64:0123456789abcdef",
        nodeNames: ["fetch", "données-α", "build 🚀", "empty", "skipped", "cancelled"],
        input: Data("input ✓".utf8), definition: Data("nodes: []".utf8),
        createdAt: Date(microsecondsSince1970: 1_700_000_000_123_456))
    state.status = .failed
    state.updatedAt = Date(microsecondsSince1970: 1_700_000_100_000_001)
    state.lastSequence = 42
    state.nodes[0].status = .completed
    state.nodes[0].attempts = 1
    state.nodes[0].startedAt = Date(microsecondsSince1970: 1_700_000_000_200_000)
    state.nodes[0].endedAt = Date(microsecondsSince1970: 1_700_000_000_300_000)
    state.nodes[0].output = bigOutput > 0 ? Data((0..<bigOutput).map { UInt8(truncatingIfNeeded: $0 &* 31) }) : Data("ok".utf8)
    state.nodes[1].status = .failed
    state.nodes[1].attempts = 3
    state.nodes[1].lastError = "exit 2: ünïcödé error"
    state.nodes[1].startedAt = Date(microsecondsSince1970: 1)
    state.nodes[2].status = .running
    state.nodes[2].attempts = 7
    state.nodes[3].status = .completed
    state.nodes[3].output = Data()
    state.nodes[4].status = .skipped
    state.nodes[4].lastError = "dependency \"données-α\" failed"
    state.nodes[5].status = .cancelled
    state.data = ["clé": Data("valeur".utf8), "empty": Data(), "z": Data([0, 255])]
    return state
}

/// A finished-looking workflow of `nodes` nodes with every combination of optional fields,
/// large enough (from about 20,000 nodes) to be encoded and decoded in parallel ranges.
func manyNodeState(nodes: Int, id: String = "many") -> WorkflowState {
    var state = WorkflowState(
        id: id, tenant: "bulk", fingerprint: "fnv1a64:00000000000000ff",
        nodeNames: (0..<nodes).map { "step-\($0)" }, input: Data("{}".utf8),
        createdAt: Date(microsecondsSince1970: 1_700_000_000_000_000))
    state.status = .running
    state.lastSequence = UInt64(nodes * 2)
    for index in state.nodes.indices {
        state.nodes[index].status = NodeStatus(rawValue: UInt8(index % 6)) ?? .pending
        state.nodes[index].attempts = UInt32(index % 4)
        if index % 3 != 0 { state.nodes[index].startedAt = Date(microsecondsSince1970: 1_700_000_000_000_000 + Int64(index)) }
        if index % 5 == 1 { state.nodes[index].endedAt = Date(microsecondsSince1970: 1_700_000_001_000_000 + Int64(index)) }
        if index % 7 == 2 { state.nodes[index].lastError = "exit \(index % 256): échec" }
        if index % 2 == 0 { state.nodes[index].output = Data((0..<(index % 61)).map { UInt8(truncatingIfNeeded: $0 &+ index) }) }
    }
    state.data = ["k": Data("v".utf8)]
    return state
}

@Suite("File stores")
struct FileStoreTests {
    @Test("every field survives a round trip", arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        let state = sampleState()
        try await store.saveState(state, durability: .fsync)
        let loaded = try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
        #expect(loaded == state)
        #expect(loaded.nodes[3].output == Data())
        #expect(loaded.nodes[2].output == nil)
        // A second store object on the same directory reads the same thing.
        #expect(try await kind.open(directory.path).load(WorkflowKey(tenant: "acme", id: "wf-1")) == state)
        #expect(access("\(directory.path)/acme/wf-1/\(kind.snapshotName)", F_OK) == 0)
    }

    @Test("SnapshotEncoding round-trips without a store and rejects damage")
    func snapshotEncoding() throws {
        let state = sampleState()
        let raw = try SnapshotEncoding.flatBuffer(state)
        #expect(try SnapshotEncoding.state(fromFlatBuffer: raw) == state)
        let compressed = try SnapshotEncoding.compressedSnapshot(state, level: 3)
        #expect(compressed.count < raw.count)
        #expect(try SnapshotEncoding.state(fromCompressedSnapshot: compressed) == state)
        var broken = raw
        broken[4] ^= 0xFF
        #expect(throws: FlowError.self) { try SnapshotEncoding.state(fromFlatBuffer: broken) }
        #expect(throws: FlowError.self) { try SnapshotEncoding.state(fromCompressedSnapshot: Array(compressed.dropLast())) }
    }

    @Test("a 10 MB output round-trips", arguments: StoreKind.allCases)
    func bigOutput(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        let state = sampleState(bigOutput: 10 << 20)
        try await store.saveState(state, durability: .buffered)
        #expect(try await store.load(WorkflowKey(tenant: "acme", id: "wf-1")) == state)
    }

    @Test("a missing workflow is a typed not-found error", arguments: StoreKind.allCases)
    func notFound(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        let error = await #expect(throws: FlowError.self) { try await store.load(WorkflowKey(id: "nope")) }
        #expect(error?.code == .notFound)
        let deleted = await #expect(throws: FlowError.self) { try await store.delete(WorkflowKey(id: "nope")) }
        #expect(deleted?.code == .notFound)
    }

    @Test(
        "hostile IDs never name a path outside the store",
        arguments: ["..", "../escape", "a/b", "/etc/passwd", "", ".hidden", "nul\0", "new\nline", String(repeating: "x", count: 300)])
    func hostileIDs(id: String) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        #expect(throws: FlowError.self) { try WorkflowKey(tenant: "t", id: id) }
        #expect(throws: FlowError.self) { try WorkflowKey(tenant: id, id: "ok") }
        let byID = await #expect(throws: FlowError.self) {
            try await store.saveState(sampleState(id: id), durability: .buffered)
        }
        #expect(byID?.code == .invalidID)
        let byTenant = await #expect(throws: FlowError.self) {
            try await store.saveState(sampleState(tenant: id), durability: .buffered)
        }
        #expect(byTenant?.code == .invalidID)
        #expect(try FileIO(layer: SystemFileLayer()).list(directory.path).isEmpty)
    }

    /// Writes `bytes` over the workflow's snapshot file and expects a typed error on load.
    private func expectCorrupt(
        _ kind: StoreKind, _ mutate: (inout [UInt8]) -> Void, code: FlowError.Code = .corruptData
    ) async throws -> FlowError? {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        try await store.saveState(sampleState(), durability: .buffered)
        let path = "\(directory.path)/acme/wf-1/\(kind.snapshotName)"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        mutate(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) {
            try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
        }
        #expect(error?.code == code)
        #expect(error?.message.hasPrefix(path) == true)
        // verify reports the same file.
        let problems = try await store.verify()
        #expect(problems.contains { $0.path == path })
        return error
    }

    @Test("a truncated snapshot is a typed error", arguments: StoreKind.allCases)
    func truncated(kind: StoreKind) async throws {
        for keep in [1, 7, 16, 40] {
            _ = try await expectCorrupt(kind) { $0 = Array($0.prefix(keep)) }
        }
        _ = try await expectCorrupt(kind) { $0.removeLast() }
    }

    @Test("a zero-length snapshot is a typed error", arguments: StoreKind.allCases)
    func zeroLength(kind: StoreKind) async throws {
        _ = try await expectCorrupt(kind) { $0 = [] }
    }

    @Test("flipped bits give a typed error, never a crash", arguments: [StoreKind.flatbuffers, .uncompressed])
    func bitFlips(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        let state = sampleState()
        try await store.saveState(state, durability: .buffered)
        let path = "\(directory.path)/acme/wf-1/\(kind.snapshotName)"
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var bytes = original
            let index = round < bytes.count ? round : Int.random(in: 0..<bytes.count, using: &generator)
            bytes[index] ^= UInt8(1 << (round % 8))
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                // A flip the checksum cannot see (a frame header bit that changes nothing, say)
                // must give back exactly what was saved: nothing invented.
                let loaded = try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
                #expect(loaded == state, "flipped byte \(index) loaded a different state")
            } catch let error as FlowError {
                #expect(error.code == .corruptData || error.code == .unsupportedFormat)
            }
        }
    }

    @Test("a wrong file identifier is refused")
    func wrongIdentifier() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        try await store.saveState(sampleState(), durability: .buffered)
        let path = "\(directory.path)/acme/wf-1/snapshot.fb.zst"
        let format = FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 30)
        var bytes = try format.withRawSnapshot(sampleState()) { Array($0) }
        bytes[4] = UInt8(ascii: "X")  // FLWS -> XLWS, then re-framed with a valid checksum
        let framed = try bytes.withUnsafeBytes { try Zstd.compress($0, level: 1, threads: 1, scratch: ScratchPool()) }
        try Data(framed).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) {
            try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
        }
        #expect(error?.code == .corruptData)
        #expect(error?.message.contains("FLWS") == true)
        // Not a zstd frame at all.
        try Data("FLWS but plain text".utf8).write(to: URL(fileURLWithPath: path))
        let plain = await #expect(throws: FlowError.self) {
            try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
        }
        #expect(plain?.message.contains("not a zstd frame") == true)
    }

    @Test("a decompression bomb is refused before it is inflated")
    func decompressionBomb() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(
            directory: directory.path, options: .init(maxSnapshotBytes: 1 << 20), layer: SystemFileLayer())
        try await store.saveState(sampleState(), durability: .buffered)
        // 64 MiB of zeros compresses to a few kilobytes.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let compressed = try zeros.withUnsafeBytes { try Zstd.compress($0, level: 19, threads: 2, scratch: ScratchPool()) }
        #expect(compressed.count < 1 << 20)
        let path = "\(directory.path)/acme/wf-1/snapshot.fb.zst"
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) {
            try await store.load(WorkflowKey(tenant: "acme", id: "wf-1"))
        }
        #expect(error?.code == .corruptData)
        #expect(error?.message.contains("over the limit") == true)
    }

    @Test("a large snapshot is several zstd frames; trailing bytes, a damaged or a foreign frame are refused")
    func multiFrameSnapshots() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let state = manyNodeState(nodes: 30_000)
        try await store.saveState(state, durability: .buffered)
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        #expect(try await store.load(key) == state)
        let path = "\(directory.path)/\(state.tenant)/\(state.id)/snapshot.fb.zst"
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var frames: [Int] = []  // where each frame starts
        var offset = 0
        while offset < file.count {
            frames.append(offset)
            let size = file[offset...].withUnsafeBytes { ZSTD_findFrameCompressedSize($0.baseAddress, $0.count) }
            try #require(ZSTD_isError(size) == 0)
            offset += size
        }
        #expect(frames.count >= 2, "a FlatBuffer over 1 MiB is cut into 1 MiB frames")

        func expectRefused(_ bytes: [UInt8], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = await #expect(throws: FlowError.self, sourceLocation: sourceLocation) { try await store.load(key) }
            #expect(error?.code == .corruptData, sourceLocation: sourceLocation)
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        }
        try await expectRefused(file + Array("trailing".utf8), "unexpected bytes after the zstd frames at offset \(file.count)")
        var damaged = file
        damaged[frames[1] + 100] ^= 0x40
        try await expectRefused(damaged, "zstd frame at offset \(frames[1])")
        // A skippable frame (magic 0x184D2A50, 4-byte length, content) between two data frames.
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]
        try await expectRefused(Array(file[..<frames[1]]) + skippable + Array(file[frames[1]...]), "at offset \(frames[1]) is not a zstd data frame")
        // The file as written still loads.
        try Data(file).write(to: URL(fileURLWithPath: path))
        #expect(try await store.load(key) == state)
    }

    @Test("outputs of a loaded snapshot read, compare, change, encode and save again like any other")
    func sharedOutputs() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let original = manyNodeState(nodes: 20_000)
        try await store.saveState(original, durability: .buffered)
        let key = try WorkflowKey(tenant: original.tenant, id: original.id)
        var loaded = try await store.load(key)
        #expect(loaded.nodes.map(\.output) == original.nodes.map(\.output), "outputs read back byte for byte, absent stays absent")
        #expect(loaded.nodes.contains { $0.output == Data() }, "a present empty output stays present")
        // Equality looks at the bytes, not at where they are kept.
        #expect(loaded.nodes == original.nodes)
        var changed = loaded.nodes[2]
        changed.output = Data([1, 2, 3])
        #expect(changed != loaded.nodes[2])
        changed.output = loaded.nodes[2].output
        #expect(changed == loaded.nodes[2])
        changed.output = nil
        #expect(changed != loaded.nodes[2] || loaded.nodes[2].output == nil)
        // JSON is the same whichever way the output is held.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(loaded) == encoder.encode(original))
        #expect(try JSONDecoder().decode(WorkflowState.self, from: encoder.encode(loaded)) == original)
        // Changing outputs in place, then saving the loaded state, round trips.
        loaded.nodes[0].output?.append(contentsOf: [9, 9])
        loaded.nodes[1].output = Data("new".utf8)
        loaded.lastSequence += 1
        try await store.saveState(loaded, durability: .buffered)
        let again = try await store.load(key)
        #expect(again.nodes[0].output == original.nodes[0].output.map { $0 + [9, 9] })
        #expect(again.nodes[1].output == Data("new".utf8))
        #expect(again.nodes[3...] == original.nodes[3...])
    }

    @Test("a bad node deep in a large snapshot is refused by the range that verifies it")
    func badNodeInLargeSnapshot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let state = manyNodeState(nodes: 30_000)
        try await store.saveState(state, durability: .buffered)
        // Two encodings that differ in one node's status locate its byte.
        var other = state
        other.nodes[25_001].status = other.nodes[25_001].status == .failed ? .skipped : .failed
        var raw = try SnapshotEncoding.flatBuffer(state)
        let changed = try SnapshotEncoding.flatBuffer(other)
        let differences = raw.indices.filter { raw[$0] != changed[$0] }
        try #require(differences.count == 1)
        raw[differences[0]] = 0xEE
        let file = try raw.withUnsafeBytes { try Zstd.compress($0, level: 1, threads: 2, scratch: ScratchPool()) }
        try Data(file).write(to: URL(fileURLWithPath: "\(directory.path)/\(state.tenant)/\(state.id)/snapshot.fb.zst"))
        let error = await #expect(throws: FlowError.self) {
            try await store.load(WorkflowKey(tenant: state.tenant, id: state.id))
        }
        // A status past the known ones reads as written by a newer version, not as damage.
        #expect(error?.code == .newerFormat)
        #expect(error?.message.contains("node 25001: status 238 is out of range") == true, "\(error?.message ?? "")")
    }

    @Test("the scratch pool reuses buffers, never lends one twice at once, and keeps no more than its limit")
    func scratchPool() {
        let pool = ScratchPool(retainedBytes: 1 << 20)
        let first = pool.withBuffer(600 << 10) { UInt(bitPattern: $0.baseAddress) }
        #expect(pool.keptBytes == 600 << 10)
        // The kept buffer serves a smaller request; a nested request gets another one.
        pool.withBuffer(100 << 10) { outer in
            #expect(UInt(bitPattern: outer.baseAddress) == first)
            #expect(outer.count == 100 << 10)
            pool.withBuffer(100 << 10) { inner in #expect(inner.baseAddress != outer.baseAddress) }
        }
        // Two buffers kept (600 KiB + 100 KiB) fit the 1 MiB limit; a 2 MiB one does not.
        #expect(pool.keptBytes == 700 << 10)
        pool.withBuffer(2 << 20) { #expect($0.count == 2 << 20) }
        #expect(pool.keptBytes == 700 << 10)
    }

    @Test("concurrent saves and loads of large workflows share the scratch memory safely")
    func concurrentLargeSnapshots() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let states = (0..<4).map { manyNodeState(nodes: 20_000 + $0 * 1_000, id: "big-\($0)") }
        for round in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for state in states {
                    group.addTask {
                        var state = state
                        state.lastSequence += UInt64(round)
                        try await store.saveState(state, durability: .buffered)
                        let loaded = try await store.load(WorkflowKey(tenant: state.tenant, id: state.id))
                        #expect(loaded == state)
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("a snapshot under the wrong workflow's directory is refused")
    func misplacedSnapshot() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        try await store.saveState(sampleState(id: "a"), durability: .buffered)
        try await store.saveState(sampleState(id: "b"), durability: .buffered)
        let a = "\(directory.path)/acme/a/snapshot.fb.zst"
        let b = "\(directory.path)/acme/b/snapshot.fb.zst"
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: a, toPath: b)
        let error = await #expect(throws: FlowError.self) { try await store.load(WorkflowKey(tenant: "acme", id: "b")) }
        #expect(error?.code == .corruptData)
    }

    @Test("list filters and pages from summaries; stats and delete", arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try kind.open(directory.path)
        for index in 0..<7 {
            var state = sampleState(id: "job-\(index)", tenant: index < 5 ? "t1" : "t2")
            state.status = index % 2 == 0 ? .completed : .failed
            state.updatedAt = Date(microsecondsSince1970: 1_000_000 * Int64(index + 1))
            try await store.saveState(state, durability: .buffered)
        }
        try await store.saveState(sampleState(id: "other", tenant: "t1"), durability: .buffered)
        #expect(try await store.listAll(WorkflowQuery(tenant: "t1")).count == 6)
        #expect(try await store.listAll(WorkflowQuery(statuses: [.completed])).map(\.id) == ["job-0", "job-2", "job-4", "job-6"])
        #expect(try await store.listAll(WorkflowQuery(idPrefix: "oth")).map(\.id) == ["other"])
        #expect(
            try await store.listAll(WorkflowQuery(updatedSince: Date(microsecondsSince1970: 6_000_000))).map(\.id)
                == ["other", "job-5", "job-6"])
        var pages: [[String]] = []
        var query = WorkflowQuery(limit: 3)
        while true {
            let page = try await store.list(query)
            pages.append(page.items.map { "\($0.tenant)/\($0.id)" })
            guard let next = page.nextCursor else { break }
            query.cursor = next
        }
        #expect(pages == [["t1/job-0", "t1/job-1", "t1/job-2"], ["t1/job-3", "t1/job-4", "t1/other"], ["t2/job-5", "t2/job-6"]])
        let summary = try #require(try await store.list(WorkflowQuery(idPrefix: "other")).items.first)
        #expect(summary.nodeCount == 6)
        #expect(summary.nodeCounts[.completed] == 2)
        #expect(summary.storedBytes > 0)

        let stats = try await store.stats()
        #expect(stats.workflows == 8)
        #expect(stats.tenants == 2)
        #expect(stats.nodes == 48)
        #expect(stats.workflowsByStatus[.completed] == 4)
        #expect(stats.bytes > 0)

        try await store.delete(WorkflowKey(tenant: "t1", id: "job-1"))
        #expect(try await store.loadIfPresent(WorkflowKey(tenant: "t1", id: "job-1")) == nil)
        #expect(try await store.verify() == [])
    }

    @Test("purge deletes finished workflows older than the cutoff, not running or locked ones")
    func purge() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        let old = Date(microsecondsSince1970: 1_000_000)
        for (id, status) in [("done", WorkflowStatus.completed), ("broken", .failed), ("busy", .running), ("held", .completed)] {
            var state = sampleState(id: id)
            state.status = status
            state.updatedAt = old
            try await store.saveState(state, durability: .buffered)
        }
        var fresh = sampleState(id: "fresh")
        fresh.status = .completed
        fresh.updatedAt = Date()
        try await store.saveState(fresh, durability: .buffered)
        let writer = try await store.acquireWriter(WorkflowKey(tenant: "acme", id: "held"))
        let removed = try await store.purge(finishedBefore: Date(timeIntervalSinceNow: -3600))
        await writer.release()
        #expect(removed.map(\.id).sorted() == ["broken", "done"])
        #expect(try await store.listAll().map(\.id) == ["busy", "fresh", "held"])
    }

    @Test("a second writer is refused and told the holder's pid")
    func writerLock() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        let key = try WorkflowKey(tenant: "acme", id: "wf")
        let writer = try await store.acquireWriter(key)
        let error = await #expect(throws: FlowError.self) {
            _ = try await StoreKind.flatbuffers.open(directory.path).acquireWriter(key)
        }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("pid \(getpid())") == true)
        let deleteError = await #expect(throws: FlowError.self) {
            try await writer.save(sampleState(id: "wf"), durability: .buffered)
            try await store.delete(key)
        }
        #expect(deleteError?.code == .locked)
        await writer.release()
        _ = try await store.acquireWriter(key)
    }

    @Test("a lock held by another process refuses this one")
    func crossProcessLock() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        let key = try WorkflowKey(tenant: "acme", id: "wf")
        try FileManager.default.createDirectory(atPath: "\(directory.path)/acme/wf", withIntermediateDirectories: true)
        // A single process that takes the lock, says so, holds it two seconds and exits.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(2)",
            "\(directory.path)/acme/wf/lock",
        ]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        _ = pipe.fileHandleForReading.availableData  // "held": the child has the lock
        let error = await #expect(throws: FlowError.self) { _ = try await store.acquireWriter(key) }
        #expect(error?.code == .locked)
        // Once the holder has exited, the kernel has dropped its lock.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let lease = try? await store.acquireWriter(key) {
                await lease.release()
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the lock was not released after the holder exited")
    }

    @Test("disk full, I/O errors and failed fsync during a save leave the last good state", arguments: StoreKind.allCases)
    func faultsDuringSave(kind: StoreKind) async throws {
        let faults: [FaultyFileLayer.Fault] = [
            .failWrites(after: 0, errno: ENOSPC), .failWrites(after: 1, errno: ENOSPC),
            .failWrites(after: 0, errno: EIO), .failSyncs(after: 0), .failSyncs(after: 1), .failSyncs(after: 2),
        ]
        for fault in faults {
            let directory = TemporaryDirectory()
            defer { directory.cleanup() }
            let layer = FaultyFileLayer()
            let store = try kind.open(directory.path, layer: layer)
            let good = sampleState()
            try await store.saveState(good, durability: .fsync)
            var next = good
            next.lastSequence = 99
            next.nodes[2].status = .completed
            layer.arm(fault)
            await #expect(throws: FlowError.self) { try await store.saveState(next, durability: .fsync) }
            layer.arm(nil)
            let loaded = try await kind.open(directory.path).load(WorkflowKey(tenant: "acme", id: "wf-1"))
            // The snapshot is the old one, or the new one when the failure came after its rename
            // (the summary write or the directory sync): never a mix, never unreadable.
            #expect(loaded == good || loaded == next)
            if case .failWrites(after: 0, _) = fault { #expect(loaded == good) }
            if case .failSyncs(after: 0) = fault { #expect(loaded == good) }
        }
    }

    @Test("short writes still produce complete files", arguments: StoreKind.allCases)
    func shortWrites(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        layer.arm(.shortWrites(bytes: 7))
        let store = try kind.open(directory.path, layer: layer)
        let state = sampleState(bigOutput: 100_000)
        try await store.saveState(state, durability: .fsync)
        #expect(try await store.load(WorkflowKey(tenant: "acme", id: "wf-1")) == state)
    }

    @Test("saveAll lands every state or none", arguments: [StoreKind.json, .flatbuffers])
    func transactions(kind: StoreKind) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        let store = try kind.open(directory.path, layer: layer)
        let first = [sampleState(id: "a"), sampleState(id: "b"), sampleState(id: "c")]
        try await store.saveAll(first)
        #expect(try await store.listAll().map(\.id) == ["a", "b", "c"])

        var second = first
        for index in second.indices { second[index].lastSequence = 1000 }
        for after in [1, 3, 5] {
            layer.arm(.failWrites(after: after, errno: ENOSPC))
            await #expect(throws: FlowError.self) { try await store.saveAll(second) }
            layer.arm(nil)
            for state in first {
                #expect(try await store.load(WorkflowKey(tenant: "acme", id: state.id)) == state)
            }
        }
        try await store.saveAll(second)
        for state in second {
            #expect(try await store.load(WorkflowKey(tenant: "acme", id: state.id)) == state)
        }
        #expect(try await store.verify() == [])
    }

    @Test("a durable transaction intent is finished when the store is opened again")
    func transactionRecovery() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try StoreKind.flatbuffers.open(directory.path)
        try await store.saveAll([sampleState(id: "a"), sampleState(id: "b")])
        // Simulate a crash after the intent became durable but before the renames: stage new
        // files by hand, as saveAll does, and write the intent.
        var updated = sampleState(id: "a")
        updated.lastSequence = 7
        let format = FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 30)
        let (bytes, name) = try format.encode(updated)
        let staged = "\(directory.path)/acme/a/\(name).txn-crash"
        try Data(bytes).write(to: URL(fileURLWithPath: staged))
        // The empty journal that follows the new snapshot is part of the same transaction.
        let stagedJournal = "\(directory.path)/acme/a/journal.log.txn-crash"
        try Data(JournalCodec.header(base: 7)).write(to: URL(fileURLWithPath: stagedJournal))
        try FileManager.default.createDirectory(atPath: "\(directory.path)/.txn", withIntermediateDirectories: true)
        let intent = try JSONEncoder().encode([
            [staged, "\(directory.path)/acme/a/\(name)"], [stagedJournal, "\(directory.path)/acme/a/journal.log"],
        ])
        try intent.write(to: URL(fileURLWithPath: "\(directory.path)/.txn/crash.json"))
        #expect(try await store.verify().contains { $0.message == "unfinished transaction" })

        let reopened = try StoreKind.flatbuffers.open(directory.path)
        #expect(try await reopened.load(WorkflowKey(tenant: "acme", id: "a")).lastSequence == 7)
        #expect(try await reopened.verify() == [])

        // An intent that names a file outside the store's own files is refused, not applied.
        let outside = try JSONEncoder().encode([["", "\(directory.path)/acme/a/../../elsewhere"]])
        try outside.write(to: URL(fileURLWithPath: "\(directory.path)/.txn/evil.json"))
        let error = #expect(throws: FlowError.self) { _ = try StoreKind.flatbuffers.open(directory.path) }
        #expect(error?.code == .corruptData)
    }
}
