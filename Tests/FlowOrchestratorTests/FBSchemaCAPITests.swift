import FBSchema
import Foundation
import Testing

// Tests of the on-disk format layer through its plain-C API (Sources/FBSchema/include/FBSchema.h):
// generated-code drift, snapshot/summary round trips and rejections, journal framing, CRC32C, and
// decoding with the stock `flatc` tool.

// MARK: - Helpers

/// The repository root, found from this file's path (Tests/FlowOrchestratorTests/<file>).
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `flatc` from PATH, or nil when flatbuffers-compiler is not installed.
private let flatcPath: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/flatc"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

private let flatcMissing = "flatc (Debian package flatbuffers-compiler) is not installed"

/// Bytes in an 8-byte-aligned allocation, as the decoding functions require.
private final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(count, 1), alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    convenience init(_ bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if let base = bytes.baseAddress { pointer.copyMemory(from: base, byteCount: bytes.count) }
    }

    convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { pointer.copyMemory(from: base, byteCount: $0.count) } }
    }

    deinit { pointer.deallocate() }

    var raw: UnsafeRawPointer { UnsafeRawPointer(pointer) }
    var bytes: [UInt8] { [UInt8](UnsafeRawBufferPointer(start: raw, count: count)) }

    subscript(index: Int) -> UInt8 {
        get { pointer.load(fromByteOffset: index, as: UInt8.self) }
        set { pointer.storeBytes(of: newValue, toByteOffset: index, as: UInt8.self) }
    }

    func copy() -> AlignedBuffer { AlignedBuffer(UnsafeRawBufferPointer(start: raw, count: count)) }

    func contains(_ view: fbs_view) -> Bool {
        guard let data = view.data else { return false }
        return data >= raw && data + view.length <= raw + count
    }
}

/// A failed C call: the code plus the detail `fbs_error` carried.
private struct CAPIError: Error, CustomStringConvertible {
    var code: fbs_code
    var offset: UInt64
    var index: UInt64
    var message: String

    init(_ error: fbs_error) {
        code = error.code
        offset = error.offset
        index = error.index
        message = withUnsafeBytes(of: error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    var description: String { "\(String(cString: fbs_code_description(code))) (\(code.rawValue)): \(message)" }
}

/// The caller-side arena: every string and blob goes into one byte array.
private struct Arena {
    var bytes: [UInt8] = []

    static let absent = fbs_slice(offset: 0, length: FBS_ABSENT)

    mutating func add(_ value: [UInt8]?) -> fbs_slice {
        guard let value else { return Self.absent }
        let slice = fbs_slice(offset: UInt64(bytes.count), length: UInt64(value.count))
        bytes.append(contentsOf: value)
        return slice
    }

    mutating func add(_ value: String?) -> fbs_slice { add(value.map { Array($0.utf8) }) }
}

private func string(_ view: fbs_view) -> String? {
    guard let data = view.data else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: data, count: view.length), as: UTF8.self)
}

private func blob(_ view: fbs_view) -> [UInt8]? {
    guard let data = view.data else { return nil }
    return [UInt8](UnsafeRawBufferPointer(start: data, count: view.length))
}

/// Copies an encoder's result into an aligned buffer and releases it.
private func take(_ buffer: inout fbs_buffer) -> AlignedBuffer {
    defer { fbs_buffer_free(&buffer) }
    return AlignedBuffer(UnsafeRawBufferPointer(start: buffer.data, count: buffer.size))
}

// MARK: - Snapshot model used by the tests

private struct TestNode: Equatable {
    var name: String
    var status: fbs_node_status = FBS_NODE_PENDING
    var attempts: UInt32 = 0
    var startedAt: Int64?
    var endedAt: Int64?
    var error: String?
    var output: [UInt8]?
}

private struct TestEntry: Equatable {
    var key: String
    var value: [UInt8]?
}

private struct TestEdge: Equatable {
    var node: UInt32
    var dependency: UInt32
}

private struct TestSnapshot: Equatable {
    var id = "wf-1"
    var tenant = "acme"
    var fingerprint = "sha256:0123"
    var status: fbs_workflow_status = FBS_WORKFLOW_RUNNING
    var createdAt: Int64 = 1_700_000_000_000_000
    var updatedAt: Int64 = 1_700_000_000_500_000
    var lastSequence: UInt64 = 42
    var input: [UInt8]?
    var definition: [UInt8]?
    var nodes: [TestNode] = []
    var data: [TestEntry] = []
    /// The DAG's shape; nil = absent.
    var edges: [TestEdge]?
}

private func encode(
    _ snapshot: TestSnapshot, threads: UInt32 = 0, scratch: UnsafeMutableRawBufferPointer? = nil,
    inScratch: ((Bool) -> Void)? = nil
) throws(CAPIError) -> AlignedBuffer {
    var arena = Arena()
    var input = fbs_snapshot_in()
    input.threads = threads
    input.scratch = scratch?.baseAddress
    input.scratch_len = scratch?.count ?? 0
    input.id = arena.add(snapshot.id)
    input.tenant = arena.add(snapshot.tenant)
    input.fingerprint = arena.add(snapshot.fingerprint)
    input.input = arena.add(snapshot.input)
    input.definition = arena.add(snapshot.definition)
    input.status = snapshot.status
    input.created_at_us = snapshot.createdAt
    input.updated_at_us = snapshot.updatedAt
    input.last_sequence = snapshot.lastSequence
    let nodes: [fbs_node_in] = snapshot.nodes.map { node in
        var n = fbs_node_in()
        n.name = arena.add(node.name)
        n.error = arena.add(node.error)
        n.output = arena.add(node.output)
        n.status = node.status
        n.attempts = node.attempts
        n.has_started_at = node.startedAt == nil ? 0 : 1
        n.started_at_us = node.startedAt ?? 0
        n.has_ended_at = node.endedAt == nil ? 0 : 1
        n.ended_at_us = node.endedAt ?? 0
        return n
    }
    let data: [fbs_kv_in] = snapshot.data.map { fbs_kv_in(key: arena.add($0.key), value: arena.add($0.value)) }
    let edges = (snapshot.edges ?? []).map { fbs_edge(node: $0.node, dependency: $0.dependency) }
    input.has_edges = snapshot.edges == nil ? 0 : 1
    var out = fbs_buffer()
    var error = fbs_error()
    let code = arena.bytes.withUnsafeBytes { arenaBytes in
        nodes.withUnsafeBufferPointer { nodePointer in
            data.withUnsafeBufferPointer { dataPointer in
                edges.withUnsafeBufferPointer { edgePointer in
                    input.arena = arenaBytes.baseAddress
                    input.arena_len = arenaBytes.count
                    input.nodes = nodePointer.baseAddress
                    input.node_count = nodePointer.count
                    input.data = dataPointer.baseAddress
                    input.data_count = dataPointer.count
                    input.edges = edgePointer.baseAddress
                    input.edge_count = edgePointer.count
                    return fbs_snapshot_encode(&input, &out, &error)
                }
            }
        }
    }
    guard code == FBS_OK else { throw CAPIError(error) }
    #expect(UInt(bitPattern: out.data) % 8 == 0, "encoder output must be 8-byte aligned")
    if let scratch {
        let start = UnsafeRawPointer(scratch.baseAddress!)
        let held = out.data.map { UnsafeRawPointer($0) >= start && UnsafeRawPointer($0) + out.size <= start + scratch.count } ?? false
        #expect(held == (out.opaque == nil), "a result in the scratch memory owns nothing, one outside owns its bytes")
        inScratch?(held)
    }
    return take(&out)
}

private func verifySnapshot(_ buffer: AlignedBuffer, length: Int? = nil) -> CAPIError? {
    var error = fbs_error()
    let code = fbs_snapshot_verify(buffer.raw, length ?? buffer.count, &error)
    #expect(code == error.code, "the returned code and fbs_error.code must agree")
    return code == FBS_OK ? nil : CAPIError(error)
}

private func decode(_ buffer: AlignedBuffer) throws(CAPIError) -> TestSnapshot {
    if let error = verifySnapshot(buffer) { throw error }
    var header = fbs_snapshot_view()
    #expect(fbs_snapshot_read_header(buffer.raw, &header) == FBS_OK)
    #expect(header.format_version == fbs_format_version())
    var nodeViews = [fbs_node_view](repeating: fbs_node_view(), count: header.node_count)
    #expect(fbs_snapshot_read_nodes(buffer.raw, 0, header.node_count, &nodeViews) == FBS_OK)
    var entryViews = [fbs_kv_view](repeating: fbs_kv_view(), count: header.data_count)
    #expect(fbs_snapshot_read_data(buffer.raw, 0, header.data_count, &entryViews) == FBS_OK)
    var edgeViews = [fbs_edge](repeating: fbs_edge(), count: header.edge_count)
    #expect(fbs_snapshot_read_edges(buffer.raw, 0, header.edge_count, &edgeViews) == FBS_OK)
    #expect(header.has_edges != 0 || header.edge_count == 0)
    // Zero-copy: every present view points into the buffer itself.
    for view in [header.id, header.tenant, header.fingerprint] { #expect(buffer.contains(view)) }
    for node in nodeViews {
        #expect(buffer.contains(node.name))
        if node.output.data != nil { #expect(buffer.contains(node.output)) }
    }
    return TestSnapshot(
        id: string(header.id) ?? "<absent>",
        tenant: string(header.tenant) ?? "<absent>",
        fingerprint: string(header.fingerprint) ?? "<absent>",
        status: header.status,
        createdAt: header.created_at_us,
        updatedAt: header.updated_at_us,
        lastSequence: header.last_sequence,
        input: blob(header.input),
        definition: blob(header.definition),
        nodes: nodeViews.map { view in
            TestNode(
                name: string(view.name) ?? "<absent>",
                status: view.status,
                attempts: view.attempts,
                startedAt: view.has_started_at != 0 ? view.started_at_us : nil,
                endedAt: view.has_ended_at != 0 ? view.ended_at_us : nil,
                error: string(view.error),
                output: blob(view.output)
            )
        },
        data: entryViews.map { TestEntry(key: string($0.key) ?? "<absent>", value: blob($0.value)) },
        edges: header.has_edges != 0 ? edgeViews.map { TestEdge(node: $0.node, dependency: $0.dependency) } : nil
    )
}

/// A snapshot exercising unicode, absent versus empty blobs, optional times, unsorted data and
/// the DAG's edges.
private func sampleSnapshot() -> TestSnapshot {
    TestSnapshot(
        id: "wf-ünïcödé-🚀",
        tenant: "équipe-東京",
        input: Array("{\"k\":1}".utf8),
        definition: [],
        nodes: [
            TestNode(name: "fetch-データ", status: FBS_NODE_COMPLETED, attempts: 1, startedAt: 10, endedAt: 20,
                     output: Array("résumé ✓".utf8)),
            TestNode(name: "empty-output", status: FBS_NODE_COMPLETED, attempts: 2, startedAt: 0, endedAt: 0,
                     output: []),
            TestNode(name: "no-output", status: FBS_NODE_FAILED, attempts: 3, startedAt: -5, endedAt: nil,
                     error: "exit status 1: ошибка"),
            TestNode(name: "pending", status: FBS_NODE_PENDING),
            TestNode(name: "skipped", status: FBS_NODE_SKIPPED, error: ""),
            TestNode(name: "cancelled", status: FBS_NODE_CANCELLED, attempts: 1, startedAt: 30),
            TestNode(name: "running", status: FBS_NODE_RUNNING, attempts: 1, startedAt: Int64.max, endedAt: Int64.min),
        ],
        data: [
            TestEntry(key: "zeta", value: [1, 2, 3]),
            TestEntry(key: "alpha", value: nil),
            TestEntry(key: "ключ", value: []),
            TestEntry(key: "Alpha", value: [0]),
        ],
        edges: [TestEdge(node: 1, dependency: 0), TestEdge(node: 2, dependency: 1), TestEdge(node: 2, dependency: 0)]
    )
}

/// The snapshot as the decoder returns it: data sorted by key bytes.
private func sortedByKey(_ snapshot: TestSnapshot) -> TestSnapshot {
    var copy = snapshot
    copy.data.sort { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    return copy
}

/// Index of the single byte that differs between two equally long buffers.
private func singleDifference(_ a: AlignedBuffer, _ b: AlignedBuffer) -> Int? {
    guard a.count == b.count else { return nil }
    let differing = (0..<a.count).filter { a[$0] != b[$0] }
    return differing.count == 1 ? differing[0] : nil
}

@discardableResult
private func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("fbschema-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

// MARK: - Journal helpers

private struct TestRecord: Equatable {
    var sequence: UInt64
    var time: Int64 = 0
    var kind: fbs_event_kind
    var node: String?
    var nodeIndex: Int32 = -1
    var attempt: UInt32 = 0
    var workflowStatus: fbs_workflow_status = FBS_WORKFLOW_PENDING
    var error: String?
    var key: String?
    var payload: [UInt8]?
    var delay: Int64 = 0
}

private func encodeRecords(_ records: [TestRecord]) throws(CAPIError) -> AlignedBuffer {
    var arena = Arena()
    let inputs: [fbs_record_in] = records.map { r in
        var x = fbs_record_in()
        x.sequence = r.sequence
        x.time_us = r.time
        x.delay_us = r.delay
        x.node = arena.add(r.node)
        x.error = arena.add(r.error)
        x.key = arena.add(r.key)
        x.payload = arena.add(r.payload)
        x.node_index = r.nodeIndex
        x.attempt = r.attempt
        x.kind = r.kind
        x.workflow_status = r.workflowStatus
        return x
    }
    var out = fbs_buffer()
    var error = fbs_error()
    let code = arena.bytes.withUnsafeBytes { a in
        fbs_records_encode(inputs, inputs.count, a.baseAddress, a.count, &out, &error)
    }
    guard code == FBS_OK else { throw CAPIError(error) }
    return take(&out)
}

private func scan(_ buffer: AlignedBuffer, length: Int? = nil, capacity: Int = 64) -> (records: [fbs_record_view], result: fbs_scan_result) {
    var views = [fbs_record_view](repeating: fbs_record_view(), count: capacity)
    var result = fbs_scan_result()
    let code = fbs_records_scan(buffer.raw, length ?? buffer.count, &views, capacity, &result)
    #expect(code == FBS_OK)
    return (Array(views.prefix(result.count)), result)
}

private func decodeRecord(_ view: fbs_record_view) -> TestRecord {
    TestRecord(sequence: view.sequence, time: view.time_us, kind: view.kind, node: string(view.node),
               nodeIndex: view.node_index, attempt: view.attempt, workflowStatus: view.workflow_status,
               error: string(view.error), key: string(view.key), payload: blob(view.payload), delay: view.delay_us)
}

private let sampleRecords: [TestRecord] = [
    TestRecord(sequence: 11, time: 1_000, kind: FBS_EVENT_NODE_STARTED, node: "ステップ-1", nodeIndex: 0, attempt: 1),
    TestRecord(sequence: 12, time: 2_000, kind: FBS_EVENT_NODE_COMPLETED, node: "ステップ-1", nodeIndex: 0, attempt: 1,
               payload: Array("output ✓ with some length to it".utf8)),
    TestRecord(sequence: 13, time: 3_000, kind: FBS_EVENT_DATA_SET, key: "kéy", payload: []),
]

// MARK: - Tests

@Suite("FBSchema C API")
struct FBSchemaCAPITests {
    // MARK: Generated code

    @Test("committed flatc output matches a fresh regeneration", .enabled(if: flatcPath != nil, Comment(rawValue: flatcMissing)))
    func generatedCodeHasNotDrifted() throws {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let script = repositoryRoot.appendingPathComponent("scripts/regen-fbschema.sh").path
        let (status, output) = try run("/bin/bash", [script, scratch.path])
        try #require(status == 0, "regen-fbschema.sh failed: \(output)")

        let committed = repositoryRoot.appendingPathComponent("Sources/FBSchema/generated")
        let fm = FileManager.default
        let fresh = try fm.contentsOfDirectory(atPath: scratch.path).sorted()
        let stored = try fm.contentsOfDirectory(atPath: committed.path).filter { $0.hasSuffix("_generated.h") }.sorted()
        #expect(fresh == ["common_generated.h", "journal_generated.h", "summary_generated.h", "workflow_generated.h"])
        #expect(stored == fresh, "generated headers differ in name; run scripts/regen-fbschema.sh")
        for name in fresh {
            let a = try Data(contentsOf: scratch.appendingPathComponent(name))
            let b = try Data(contentsOf: committed.appendingPathComponent(name))
            #expect(a == b, "\(name) drifted from Schemas/; run scripts/regen-fbschema.sh and commit the result")
        }
    }

    // MARK: CRC32C

    @Test("CRC32C matches the Castagnoli check values and chains")
    func crc32c() {
        #expect(fbs_crc32c("123456789", 9, 0) == 0xE306_9283)
        // RFC 3720 (iSCSI) B.4 test vectors.
        let zeros = [UInt8](repeating: 0, count: 32)
        let ones = [UInt8](repeating: 0xFF, count: 32)
        let ascending = (0..<32).map { UInt8($0) }
        let descending = (0..<32).map { UInt8(31 - $0) }
        #expect(fbs_crc32c(zeros, 32, 0) == 0x8A91_36AA)
        #expect(fbs_crc32c(ones, 32, 0) == 0x62A8_AB43)
        #expect(fbs_crc32c(ascending, 32, 0) == 0x46DD_794E)
        #expect(fbs_crc32c(descending, 32, 0) == 0x113F_DB5C)
        #expect(fbs_crc32c(nil, 0, 0x1234) == 0x1234)
        // Seeding with a previous result continues the CRC, at every split and alignment.
        var bytes = [UInt8](repeating: 0, count: 1_031)
        var state: UInt32 = 2_463_534_242
        for i in bytes.indices {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            bytes[i] = UInt8(truncatingIfNeeded: state)
        }
        let whole = fbs_crc32c(bytes, bytes.count, 0)
        bytes.withUnsafeBytes { raw in
            for split in [0, 1, 3, 7, 8, 9, 500, 1_030, 1_031] {
                let first = fbs_crc32c(raw.baseAddress, split, 0)
                #expect(fbs_crc32c(raw.baseAddress! + split, raw.count - split, first) == whole, "split at \(split)")
            }
        }
    }

    // MARK: Snapshot round trips

    @Test("snapshot round trip keeps unicode, absent vs empty blobs and optional times")
    func snapshotRoundTrip() throws {
        let snapshot = sampleSnapshot()
        let buffer = try encode(snapshot)
        #expect(fbs_identify(buffer.raw, buffer.count) == FBS_FILE_SNAPSHOT)
        let decoded = try decode(buffer)
        #expect(decoded == sortedByKey(snapshot))
        #expect(decoded.data.map(\.key) == ["Alpha", "alpha", "zeta", "ключ"])
        #expect(decoded.nodes[1].output == [], "an empty output stays present")
        #expect(decoded.nodes[2].output == nil, "an absent output stays absent")
        #expect(decoded.input != nil && decoded.definition == [])
    }

    @Test("snapshot round trip with a 10 MB output and partial node reads")
    func snapshotWithLargeOutput() throws {
        var snapshot = sampleSnapshot()
        let big = (0..<(10 * 1_024 * 1_024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
        snapshot.nodes.append(TestNode(name: "big", status: FBS_NODE_COMPLETED, attempts: 1, output: big))
        snapshot.input = nil
        let buffer = try encode(snapshot)
        #expect(buffer.count > big.count)
        let decoded = try decode(buffer)
        #expect(decoded.nodes.last?.output == big)
        #expect(decoded == sortedByKey(snapshot))

        // Reading a window of nodes, and refusing one past the end.
        var views = [fbs_node_view](repeating: fbs_node_view(), count: 2)
        #expect(fbs_snapshot_read_nodes(buffer.raw, 2, 2, &views) == FBS_OK)
        #expect(string(views[0].name) == "no-output" && string(views[1].name) == "pending")
        let count = snapshot.nodes.count
        #expect(fbs_snapshot_read_nodes(buffer.raw, count - 1, 2, &views) == FBS_ERR_OUT_OF_RANGE)
        #expect(fbs_snapshot_read_nodes(buffer.raw, count, 0, &views) == FBS_OK)
    }

    @Test("large node lists encode to the same bytes on any number of threads, in scratch memory or not")
    func threadsAndScratch() throws {
        var snapshot = sampleSnapshot()
        // Enough nodes for several ranges, cycling through every combination of optional fields.
        snapshot.nodes = (0..<20_000).map { index in
            TestNode(
                name: "node-\(index)-é", status: fbs_node_status(UInt32(index % 6)), attempts: UInt32(index % 5),
                startedAt: index % 2 == 0 ? Int64(index) * 1000 : nil, endedAt: index % 4 < 2 ? -Int64(index) : nil,
                error: index % 8 < 4 ? nil : String(repeating: "e", count: index % 7),
                output: index % 16 < 8 ? nil : [UInt8](repeating: UInt8(index % 251), count: index % 13))
        }
        let single = try encode(snapshot, threads: 1)
        #expect(try decode(single) == sortedByKey(snapshot))
        for threads: UInt32 in [2, 3, 4, 64] {
            let parallel = try encode(snapshot, threads: threads)
            #expect(Array(parallel.bytes) == Array(single.bytes), "threads: \(threads)")
        }
        // Scratch memory large enough (by the header's rule) holds the result; too small, the
        // encoder falls back to its own memory with the same bytes.
        let arenaBytes = 20_000 * 40 + 1024
        let enough = UnsafeMutableRawBufferPointer.allocate(byteCount: arenaBytes + 96 * 20_000 + 128 * 4 + 4096, alignment: 16)
        defer { enough.deallocate() }
        var held = false
        let inScratch = try encode(snapshot, threads: 2, scratch: enough) { held = $0 }
        #expect(held)
        #expect(Array(inScratch.bytes) == Array(single.bytes))
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { small.deallocate() }
        let outside = try encode(snapshot, threads: 2, scratch: small) { held = $0 }
        #expect(!held)
        #expect(Array(outside.bytes) == Array(single.bytes))
    }

    @Test("an empty workflow round trips")
    func emptySnapshot() throws {
        let snapshot = TestSnapshot(id: "x", tenant: "", fingerprint: "", status: FBS_WORKFLOW_PENDING, createdAt: 0,
                                    updatedAt: 0, lastSequence: 0)
        #expect(try decode(encode(snapshot)) == snapshot)
    }

    @Test("the encoder refuses what the verifier would reject")
    func encoderRejections() {
        var duplicate = sampleSnapshot()
        duplicate.data.append(TestEntry(key: "zeta", value: nil))
        #expect(throws: CAPIError.self) { try encode(duplicate) }
        #expect(codeOf { try encode(duplicate) } == FBS_ERR_DUPLICATE_KEY)

        var badStatus = sampleSnapshot()
        badStatus.nodes[0].status = fbs_node_status(rawValue: 11)
        #expect(codeOf { try encode(badStatus) } == FBS_ERR_BAD_ENUM)

        var badWorkflowStatus = sampleSnapshot()
        badWorkflowStatus.status = fbs_workflow_status(rawValue: 9)
        #expect(codeOf { try encode(badWorkflowStatus) } == FBS_ERR_BAD_ENUM)

        // A slice past the arena's end and invalid UTF-8, through the raw API.
        var arena = Arena()
        var node = fbs_node_in()
        node.name = arena.add([0xC3, 0x28])  // invalid UTF-8
        node.error = Arena.absent
        node.output = Arena.absent
        var input = fbs_snapshot_in()
        input.id = arena.add("id")
        input.tenant = arena.add("")
        input.fingerprint = arena.add("")
        input.input = Arena.absent
        input.definition = Arena.absent
        var out = fbs_buffer()
        var error = fbs_error()
        let bytes = arena.bytes
        let utf8Code = bytes.withUnsafeBytes { a in
            withUnsafePointer(to: node) { n in
                input.arena = a.baseAddress; input.arena_len = a.count
                input.nodes = n; input.node_count = 1
                return fbs_snapshot_encode(&input, &out, &error)
            }
        }
        #expect(utf8Code == FBS_ERR_BAD_UTF8 && error.index == 0)
        node.name = fbs_slice(offset: UInt64(bytes.count) - 1, length: 2)
        let rangeCode = bytes.withUnsafeBytes { a in
            withUnsafePointer(to: node) { n in
                input.arena = a.baseAddress; input.arena_len = a.count
                input.nodes = n; input.node_count = 1
                return fbs_snapshot_encode(&input, &out, &error)
            }
        }
        #expect(rangeCode == FBS_ERR_ARENA_RANGE)
        #expect(out.data == nil, "a failed encode leaves no buffer to free")
        #expect(fbs_snapshot_encode(nil, &out, &error) == FBS_ERR_INVALID_ARGUMENT)
    }

    // MARK: Snapshot verification

    @Test("verify rejects truncated buffers with a typed error")
    func verifyRejectsTruncation() throws {
        let buffer = try encode(sampleSnapshot())
        let n = buffer.count
        // The end of a FlatBuffer holds the first-built objects (node 0's strings), so cutting
        // 64 bytes or more always removes content; shorter cuts may only remove padding.
        for length in [1, 7, 8, 15, 16, 40, n / 4, n / 3, n / 2, n - 64] {
            let error = try #require(verifySnapshot(buffer, length: length), "length \(length) of \(n) accepted")
            #expect([FBS_ERR_TRUNCATED, FBS_ERR_VERIFY].contains(error.code), "length \(length): \(error)")
        }
    }

    @Test("verify rejects zero length, a wrong identifier, misalignment and a broken root offset")
    func verifyRejectsBadBuffers() throws {
        let buffer = try encode(sampleSnapshot())
        #expect(verifySnapshot(buffer, length: 0)?.code == FBS_ERR_EMPTY)
        var error = fbs_error()
        #expect(fbs_snapshot_verify(nil, 0, &error) == FBS_ERR_EMPTY)

        let wrongIdentifier = buffer.copy()
        for (i, byte) in "XXXX".utf8.enumerated() { wrongIdentifier[4 + i] = byte }
        let identifierError = try #require(verifySnapshot(wrongIdentifier))
        #expect(identifierError.code == FBS_ERR_BAD_IDENTIFIER && identifierError.offset == 4)

        // A summary is not a snapshot, and the other way round.
        let summary = try encodeSummary(sampleSummary())
        #expect(verifySnapshot(summary)?.code == FBS_ERR_BAD_IDENTIFIER)
        #expect(fbs_summary_verify(buffer.raw, buffer.count, &error) == FBS_ERR_BAD_IDENTIFIER)

        // The root offset's high byte flipped: it points far outside the buffer.
        let brokenRoot = buffer.copy()
        brokenRoot[3] ^= 0x40
        #expect(verifySnapshot(brokenRoot)?.code == FBS_ERR_VERIFY)

        let shifted = AlignedBuffer(count: buffer.count + 1)
        (shifted.pointer + 1).copyMemory(from: buffer.raw, byteCount: buffer.count)
        #expect(fbs_snapshot_verify(shifted.raw + 1, buffer.count, &error) == FBS_ERR_MISALIGNED)

        let tooLarge = fbs_snapshot_verify(buffer.raw, Int(FBS_MAX_BUFFER_SIZE), &error)
        #expect(tooLarge == FBS_ERR_TOO_LARGE)
    }

    @Test("verification in parts: the root, then node ranges, finds what the whole verification finds")
    func verifyInParts() throws {
        var snapshot = sampleSnapshot()
        snapshot.nodes = (0..<2_000).map { TestNode(name: "n\($0)", status: FBS_NODE_COMPLETED, attempts: 1, output: [1, 2]) }
        var other = snapshot
        other.nodes[1_500].status = FBS_NODE_FAILED
        let good = try encode(snapshot)
        let statusAt = try #require(singleDifference(good, try encode(other)))
        var error = fbs_error()
        #expect(fbs_snapshot_verify_root(good.raw, good.count, &error) == FBS_OK)
        for (first, count) in [(0, 2_000), (0, 1_000), (1_000, 1_000), (1_999, 1), (2_000, 0)] {
            #expect(fbs_snapshot_verify_nodes(good.raw, good.count, first, count, &error) == FBS_OK, "\(first)+\(count)")
        }
        #expect(fbs_snapshot_verify_nodes(good.raw, good.count, 1_500, 501, &error) == FBS_ERR_OUT_OF_RANGE)

        // A bad node status: the root still verifies; only the range holding that node fails.
        let corrupt = good.copy()
        corrupt[statusAt] = 0xEE
        #expect(verifySnapshot(corrupt)?.code == FBS_ERR_BAD_ENUM)
        #expect(fbs_snapshot_verify_root(corrupt.raw, corrupt.count, &error) == FBS_OK)
        #expect(fbs_snapshot_verify_nodes(corrupt.raw, corrupt.count, 0, 1_500, &error) == FBS_OK)
        #expect(fbs_snapshot_verify_nodes(corrupt.raw, corrupt.count, 1_400, 200, &error) == FBS_ERR_BAD_ENUM)
        #expect(error.index == 1_500)

        // Root damage is the root's to find: a broken root offset.
        let brokenRoot = good.copy()
        brokenRoot[3] ^= 0x40
        #expect(fbs_snapshot_verify_root(brokenRoot.raw, brokenRoot.count, &error) == FBS_ERR_VERIFY)

        // Every single-byte change either verifies both ways or fails both ways.
        for offset in stride(from: 0, to: good.count, by: 97) {
            let changed = good.copy()
            changed[offset] ^= 0x5A
            let whole = verifySnapshot(changed) == nil
            var parts = fbs_snapshot_verify_root(changed.raw, changed.count, &error) == FBS_OK
            if parts {
                var header = fbs_snapshot_view()
                _ = fbs_snapshot_read_header(changed.raw, &header)
                parts = fbs_snapshot_verify_nodes(changed.raw, changed.count, 0, header.node_count, &error) == FBS_OK
            }
            #expect(whole == parts, "byte \(offset)")
        }
    }

    @Test("the hand-written node layout and root verification name every field of the schema")
    func handWrittenCodeCoversSchema() throws {
        // Node tables are written, and the Snapshot root verified, by code in Snapshot.cpp rather
        // than by flatc's output: a field added to either table must be handled there too.
        let schema = try String(contentsOfFile: "\(packageRoot)/Schemas/workflow.fbs", encoding: .utf8)
        let code = try String(contentsOfFile: "\(packageRoot)/Sources/FBSchema/Snapshot.cpp", encoding: .utf8)
        for table in ["Node", "Snapshot"] {
            let body = try #require(schema.components(separatedBy: "table \(table) {").dropFirst().first?
                .components(separatedBy: "}").first)
            let fields = body.split(separator: "\n").compactMap { line -> String? in
                let text = line.trimmingCharacters(in: .whitespaces)
                guard !text.hasPrefix("//"), let colon = text.firstIndex(of: ":") else { return nil }
                return String(text[..<colon])
            }
            #expect(fields.count >= 7, "\(table): \(fields)")
            for field in fields {
                #expect(code.contains("VT_\(field.uppercased())"), "\(table).\(field) is not handled in Snapshot.cpp")
            }
        }
    }

    @Test("verify rejects out-of-range node and workflow statuses")
    func verifyRejectsBadEnums() throws {
        // Two snapshots that differ only in one status locate that status byte.
        var failed = sampleSnapshot()
        failed.nodes[3].status = FBS_NODE_FAILED
        var cancelled = failed
        cancelled.nodes[3].status = FBS_NODE_CANCELLED
        let a = try encode(failed)
        let b = try encode(cancelled)
        let nodeStatusAt = try #require(singleDifference(a, b))
        #expect(a[nodeStatusAt] == UInt8(FBS_NODE_FAILED.rawValue))
        for bad: UInt8 in [11, 12, 0x80, 0xFF] {
            let corrupt = a.copy()
            corrupt[nodeStatusAt] = bad
            let error = try #require(verifySnapshot(corrupt))
            #expect(error.code == FBS_ERR_BAD_ENUM && error.index == 3, "\(error)")
        }

        var running = sampleSnapshot()
        running.status = FBS_WORKFLOW_RUNNING
        var finished = running
        finished.status = FBS_WORKFLOW_CANCELLED
        let c = try encode(running)
        let d = try encode(finished)
        let workflowStatusAt = try #require(singleDifference(c, d))
        let corrupt = c.copy()
        corrupt[workflowStatusAt] = 9
        #expect(verifySnapshot(corrupt)?.code == FBS_ERR_BAD_ENUM)
    }

    @Test("the DAG's shape round trips: absent, empty and present edges stay distinct")
    func edgesRoundTrip() throws {
        for edges: [TestEdge]? in [nil, [], [TestEdge(node: 1, dependency: 0), TestEdge(node: 6, dependency: 2), TestEdge(node: 6, dependency: 0)]] {
            var snapshot = sampleSnapshot()
            snapshot.edges = edges
            #expect(try decode(try encode(snapshot)) == sortedByKey(snapshot))
        }
        let buffer = try encode(sampleSnapshot())
        #expect(fbs_snapshot_read_edges(buffer.raw, 0, 1, nil) == FBS_ERR_INVALID_ARGUMENT)
        var past = [fbs_edge](repeating: fbs_edge(), count: 1)
        #expect(fbs_snapshot_read_edges(buffer.raw, 3, 1, &past) == FBS_ERR_OUT_OF_RANGE)
    }

    @Test("encoder and verifier refuse edges past the nodes, self-edges, edges out of node order and repeated ones")
    func edgeRejections() throws {
        let bad: [[TestEdge]] = [
            [TestEdge(node: 7, dependency: 0)],  // 7 nodes: index 7 is past the last
            [TestEdge(node: 1, dependency: 9)],
            [TestEdge(node: 2, dependency: 2)],
            [TestEdge(node: 3, dependency: 0), TestEdge(node: 2, dependency: 0)],
            [TestEdge(node: 3, dependency: 0), TestEdge(node: 3, dependency: 1), TestEdge(node: 3, dependency: 0)],
        ]
        for edges in bad {
            var snapshot = sampleSnapshot()
            snapshot.edges = edges
            #expect(throws: CAPIError.self, "\(edges)") { _ = try encode(snapshot) }
            do {
                _ = try encode(snapshot)
            } catch {
                #expect(error.code == FBS_ERR_INCONSISTENT, "\(error)")
            }
        }
        // Two snapshots that differ only in one edge's dependency locate it; the verifier refuses
        // a self-edge and an index past the nodes written there.
        var one = sampleSnapshot()
        one.edges = [TestEdge(node: 2, dependency: 1)]
        var other = one
        other.edges = [TestEdge(node: 2, dependency: 0)]
        let a = try encode(one)
        let dependencyAt = try #require(singleDifference(a, try encode(other)))
        for value: UInt8 in [2, 7, 0xFF] {
            let corrupt = a.copy()
            corrupt[dependencyAt] = value
            let error = try #require(verifySnapshot(corrupt), "dependency \(value)")
            #expect(error.code == FBS_ERR_INCONSISTENT && error.index == 0, "\(error)")
        }
    }

    @Test("every single-byte corruption of a snapshot is a typed error or still readable, never a crash")
    func verifySurvivesEveryByteFlip() throws {
        let buffer = try encode(sampleSnapshot())
        var rejected = 0
        for offset in 0..<buffer.count {
            let corrupt = buffer.copy()
            corrupt[offset] ^= 0xFF
            if verifySnapshot(corrupt) != nil {
                rejected += 1
                continue
            }
            // Accepted: it must still read without faults (e.g. a flipped timestamp or blob byte).
            #expect(throws: Never.self) { _ = try decode(corrupt) }
        }
        #expect(rejected > buffer.count / 10, "structure-breaking flips must be rejected")
    }

    // MARK: Summary

    @Test("summary round trip and count consistency")
    func summaryRoundTrip() throws {
        let input = sampleSummary()
        let buffer = try encodeSummary(input)
        #expect(fbs_identify(buffer.raw, buffer.count) == FBS_FILE_SUMMARY)
        var error = fbs_error()
        #expect(fbs_summary_verify(buffer.raw, buffer.count, &error) == FBS_OK)
        var view = fbs_summary_view()
        #expect(fbs_summary_read(buffer.raw, &view) == FBS_OK)
        #expect(string(view.id) == "wf-ü" && string(view.tenant) == "t" && string(view.fingerprint) == "fp")
        #expect(view.status == FBS_WORKFLOW_FAILED && view.format_version == FBS_FORMAT_VERSION)
        #expect(view.node_count == 21 && view.pending == 1 && view.running == 2 && view.completed == 3)
        #expect(view.failed == 4 && view.skipped == 5 && view.cancelled == 6)
        #expect(view.last_sequence == 99 && view.snapshot_bytes == 123_456 && view.updated_at_us == 8)

        var inconsistent = input
        inconsistent.node_count = 20
        #expect(codeOf { try encodeSummary(inconsistent) } == FBS_ERR_INCONSISTENT)

        // A corrupted count is caught by the consistency check even though the structure is fine.
        var more = input
        more.completed = 4
        more.node_count = 22
        let other = try encodeSummary(more)
        let countAt = try #require((0..<buffer.count).first { buffer[$0] != other[$0] })
        let corrupt = buffer.copy()
        corrupt[countAt] = other[countAt]
        #expect(fbs_summary_verify(corrupt.raw, corrupt.count, &error) == FBS_ERR_INCONSISTENT)
    }

    // MARK: Journal

    @Test("journal file header round trip and rejections")
    func journalHeader() throws {
        #expect(FBS_JOURNAL_HEADER_SIZE % FBS_FRAME_ALIGNMENT == 0)
        let header = AlignedBuffer(count: Int(FBS_JOURNAL_HEADER_SIZE))
        #expect(fbs_journal_header_encode(1_234_567, header.pointer, header.count) == FBS_OK)
        #expect(Array(header.bytes.prefix(4)) == Array("FLWJ".utf8))
        #expect(fbs_identify(header.raw, header.count) == FBS_FILE_JOURNAL)
        var parsed = fbs_journal_header()
        var error = fbs_error()
        #expect(fbs_journal_header_parse(header.raw, header.count, &parsed, &error) == FBS_OK)
        #expect(parsed.base_sequence == 1_234_567 && parsed.format_version == FBS_FORMAT_VERSION)
        #expect(fbs_journal_header_encode(0, header.pointer, header.count - 1) == FBS_ERR_INVALID_ARGUMENT)

        #expect(fbs_journal_header_parse(header.raw, 0, &parsed, &error) == FBS_ERR_EMPTY)
        for length in [3, 4, 23] {
            let code = fbs_journal_header_parse(header.raw, length, &parsed, &error)
            #expect(code == FBS_ERR_TRUNCATED, "length \(length)")
        }
        for offset in 0..<header.count {
            let corrupt = header.copy()
            corrupt[offset] ^= 0x01
            let code = fbs_journal_header_parse(corrupt.raw, corrupt.count, &parsed, &error)
            #expect(code == (offset < 4 ? FBS_ERR_BAD_MAGIC : FBS_ERR_BAD_CHECKSUM), "flip at \(offset)")
        }
    }

    @Test("three framed records scan back, 8-aligned, with absent vs empty payloads")
    func journalRoundTrip() throws {
        let buffer = try encodeRecords(sampleRecords)
        #expect(buffer.count % Int(FBS_FRAME_ALIGNMENT) == 0)
        let (views, result) = scan(buffer)
        #expect(result.stop == FBS_SCAN_END && result.count == 3 && result.consumed == UInt64(buffer.count))
        #expect(result.bad_offset == FBS_NO_OFFSET)
        #expect(views.map(decodeRecord) == sampleRecords)
        var expectedOffset: UInt64 = 0
        for view in views {
            #expect(view.frame_offset == expectedOffset && view.frame_offset % 8 == 0)
            // Frame header: payload length, then CRC32C of exactly that many payload bytes.
            let at = Int(view.frame_offset)
            let length = buffer.pointer.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
            let crc = buffer.pointer.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self).littleEndian
            #expect(fbs_crc32c(buffer.raw + at + 8, Int(length), 0) == crc)
            #expect(view.frame_size == (8 + UInt64(length) + 7) / 8 * 8)
            expectedOffset += view.frame_size
        }
        #expect(views[0].payload.data == nil && views[2].payload.data != nil && views[2].payload.length == 0)

        // Capacity: stop FULL after two, then continue from `consumed`.
        let (firstTwo, partial) = scan(buffer, capacity: 2)
        #expect(firstTwo.count == 2 && partial.stop == FBS_SCAN_FULL && partial.consumed == views[2].frame_offset)
        var rest = [fbs_record_view](repeating: fbs_record_view(), count: 4)
        var tail = fbs_scan_result()
        let consumed = Int(partial.consumed)
        #expect(fbs_records_scan(buffer.raw + consumed, buffer.count - consumed, &rest, 4, &tail) == FBS_OK)
        #expect(tail.count == 1 && tail.stop == FBS_SCAN_END && rest[0].sequence == 13)

        // Validate-only mode counts without filling.
        var counted = fbs_scan_result()
        #expect(fbs_records_scan(buffer.raw, buffer.count, nil, 0, &counted) == FBS_OK)
        #expect(counted.count == 3 && counted.stop == FBS_SCAN_END)

        // An empty journal body is a clean end.
        #expect(fbs_records_scan(buffer.raw, 0, nil, 0, &counted) == FBS_OK && counted.stop == FBS_SCAN_END)
    }

    @Test("a journal cut at every byte offset of its last record keeps the first two")
    func journalTornTail() throws {
        let buffer = try encodeRecords(sampleRecords)
        let last = scan(buffer).records[2]
        let start = Int(last.frame_offset)
        for cut in start..<buffer.count {
            let (views, result) = scan(buffer, length: cut)
            #expect(views.count == 2, "cut at \(cut)")
            #expect(views.map(\.sequence) == [11, 12])
            #expect(result.consumed == UInt64(start), "cut at \(cut)")
            if cut == start {
                #expect(result.stop == FBS_SCAN_END, "a cut on the frame boundary is a clean end")
            } else {
                #expect(result.stop == FBS_SCAN_TORN_TAIL, "cut at \(cut)")
                #expect(result.bad_offset == UInt64(start) && result.error.code == FBS_ERR_TORN_TAIL)
            }
        }
        // Zero fill after the last good frame (a file extended but never written) is a torn tail too.
        let zeroFilled = AlignedBuffer(count: buffer.count + 4_096)
        zeroFilled.pointer.copyMemory(from: buffer.raw, byteCount: buffer.count)
        let (views, result) = scan(zeroFilled)
        #expect(views.count == 3 && result.stop == FBS_SCAN_TORN_TAIL && result.bad_offset == UInt64(buffer.count))
    }

    @Test("a flipped payload byte is a checksum mismatch at that frame")
    func journalChecksumMismatch() throws {
        let buffer = try encodeRecords(sampleRecords)
        let frames = scan(buffer).records
        let second = Int(frames[1].frame_offset)
        let corrupt = buffer.copy()
        corrupt[second + 8 + 12] ^= 0x01
        let (views, result) = scan(corrupt)
        #expect(views.count == 1 && views[0].sequence == 11)
        #expect(result.stop == FBS_SCAN_BAD_CHECKSUM && result.error.code == FBS_ERR_BAD_CHECKSUM)
        #expect(result.bad_offset == UInt64(second) && result.consumed == UInt64(second) && result.error.offset == UInt64(second))
    }

    @Test("any corrupted byte in frame k stops the scan at frame k with k good records")
    func journalEveryByteFlip() throws {
        let buffer = try encodeRecords(sampleRecords)
        let frames = scan(buffer).records
        for offset in 0..<buffer.count {
            let k = try #require(frames.lastIndex { $0.frame_offset <= UInt64(offset) })
            let corrupt = buffer.copy()
            corrupt[offset] ^= 0xFF
            let (views, result) = scan(corrupt)
            #expect(views.count == k, "flip at \(offset)")
            #expect(result.bad_offset == frames[k].frame_offset, "flip at \(offset)")
            let inPayload = offset >= Int(frames[k].frame_offset) + 8
                && offset < Int(frames[k].frame_offset + frames[k].frame_size)
            let payloadLength = Int(
                buffer.pointer.loadUnaligned(fromByteOffset: Int(frames[k].frame_offset), as: UInt32.self).littleEndian)
            let inPadding = offset >= Int(frames[k].frame_offset) + 8 + payloadLength && inPayload
            if inPadding {
                #expect(result.stop == FBS_SCAN_BAD_PADDING, "flip at \(offset)")
            } else if inPayload {
                #expect(result.stop == FBS_SCAN_BAD_CHECKSUM, "flip at \(offset)")
            } else {
                #expect(result.stop != FBS_SCAN_END && result.stop != FBS_SCAN_FULL, "flip at \(offset)")
            }
        }
    }

    @Test("scan refuses a misaligned buffer, and encode refuses bad records")
    func journalArgumentChecks() throws {
        let buffer = try encodeRecords(sampleRecords)
        let shifted = AlignedBuffer(count: buffer.count + 4)
        (shifted.pointer + 4).copyMemory(from: buffer.raw, byteCount: buffer.count)
        var result = fbs_scan_result()
        #expect(fbs_records_scan(shifted.raw + 4, buffer.count, nil, 0, &result) == FBS_ERR_MISALIGNED)

        var bad = sampleRecords
        bad[1].kind = fbs_event_kind(rawValue: 13)
        #expect(codeOf { try encodeRecords(bad) } == FBS_ERR_BAD_ENUM)
        bad = sampleRecords
        bad[2].workflowStatus = fbs_workflow_status(rawValue: 9)
        #expect(codeOf { try encodeRecords(bad) } == FBS_ERR_BAD_ENUM)
        #expect(try encodeRecords([]).count == 0)
    }

    // MARK: Standard tools

    @Test("flatc --json decodes a snapshot written through the C API", .enabled(if: flatcPath != nil, Comment(rawValue: flatcMissing)))
    func flatcDecodesSnapshot() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("snapshot.fb")
        let buffer = try encode(sampleSnapshot())
        try Data(buffer.bytes).write(to: file)

        let schema = repositoryRoot.appendingPathComponent("Schemas/workflow.fbs").path
        let (status, output) = try run(flatcPath!, [
            "--json", "--strict-json", "--defaults-json", "--raw-binary", "-o", directory.path, schema, "--", file.path,
        ])
        try #require(status == 0, "flatc failed: \(output)")
        let json = try Data(contentsOf: directory.appendingPathComponent("snapshot.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(root["id"] as? String == "wf-ünïcödé-🚀")
        #expect(root["status"] as? String == "Running")
        #expect(root["format_version"] as? Int == Int(FBS_FORMAT_VERSION))
        let nodes = try #require(root["nodes"] as? [[String: Any]])
        #expect(nodes.compactMap { $0["status"] as? String }
            == ["Completed", "Completed", "Failed", "Pending", "Skipped", "Cancelled", "Running"])
        #expect(nodes.compactMap { $0["name"] as? String }.first == "fetch-データ")
        let keys = (root["data"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
        #expect(keys == ["Alpha", "alpha", "zeta", "ключ"])
    }
}

// MARK: - Summary helpers

private func sampleSummary() -> fbs_summary_in {
    var s = fbs_summary_in()
    s.status = FBS_WORKFLOW_FAILED
    s.created_at_us = 7
    s.updated_at_us = 8
    s.last_sequence = 99
    s.snapshot_bytes = 123_456
    s.pending = 1; s.running = 2; s.completed = 3; s.failed = 4; s.skipped = 5; s.cancelled = 6
    s.node_count = 21
    return s
}

private func encodeSummary(_ template: fbs_summary_in) throws(CAPIError) -> AlignedBuffer {
    var arena = Arena()
    var input = template
    input.id = arena.add("wf-ü")
    input.tenant = arena.add("t")
    input.fingerprint = arena.add("fp")
    var out = fbs_buffer()
    var error = fbs_error()
    let code = arena.bytes.withUnsafeBytes { a in
        input.arena = a.baseAddress
        input.arena_len = a.count
        return fbs_summary_encode(&input, &out, &error)
    }
    guard code == FBS_OK else { throw CAPIError(error) }
    return take(&out)
}

/// The code a failing C API call threw, or FBS_OK when it did not fail.
private func codeOf(_ body: () throws -> AlignedBuffer) -> fbs_code {
    do {
        _ = try body()
        return FBS_OK
    } catch let error as CAPIError {
        return error.code
    } catch {
        Issue.record("unexpected error \(error)")
        return FBS_ERR_INTERNAL
    }
}
