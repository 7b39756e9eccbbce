import Foundation
import Testing

@testable import FlowOrchestrator

/// Runs a command, returning its exit status and standard output.
@discardableResult
func shell(_ command: String, in directory: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let toolsPresent = (try? shell("command -v flatc && command -v zstd").status) == 0

@Suite("Standard tools and schema evolution", .enabled(if: toolsPresent, "needs flatc and zstd (apt-get install flatbuffers-compiler zstd)"))
struct StandardToolsTests {
    @Test(
        "zstd -d and flatc --json decode a stored snapshot to the statuses the API reports",
        arguments: [6, 30_000])  // one zstd frame; several (a FlatBuffer over 1 MiB)
    func decodeWithStandardTools(nodes: Int) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let state = nodes == 6 ? sampleState() : manyNodeState(nodes: nodes)
        try await store.saveState(state, durability: .fsync)
        let snapshot = "\(directory.path)/\(state.tenant)/\(state.id)/snapshot.fb.zst"
        let command = """
            zstd -q -d -c '\(snapshot)' > '\(directory.path)/raw.fb' && \
            flatc --json --strict-json --defaults-json --raw-binary -o '\(directory.path)' \
            '\(packageRoot)/Schemas/workflow.fbs' -- '\(directory.path)/raw.fb'
            """
        #expect(try shell(command).status == 0)
        let json = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/raw.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        let loaded = try await store.load(WorkflowKey(tenant: state.tenant, id: state.id))
        #expect(nodes.map { $0["name"] as? String } == loaded.nodes.map(\.name))
        #expect(nodes.map { ($0["status"] as? String)?.lowercased() } == loaded.nodes.map(\.status.description))
        #expect(nodes.map { $0["attempts"] as? Int } == loaded.nodes.map { Int($0.attempts) })
        #expect(nodes.map { $0["ended_at_us"] as? Int } == loaded.nodes.map { $0.endedAt.map { Int($0.microsecondsSince1970) } })
        #expect(object["id"] as? String == state.id)
        #expect((object["status"] as? String)?.lowercased() == loaded.status.description)
        #expect(object["last_sequence"] as? Int == Int(state.lastSequence))
    }

    @Test("a snapshot written by the previous schema layout still loads")
    func previousLayout() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let fixtures = "\(packageRoot)/Tests/FlowOrchestratorTests/Fixtures"
        let target = "\(directory.path)/old/legacy"
        let command = """
            mkdir -p '\(target)' && \
            flatc -b -o '\(directory.path)' '\(fixtures)/workflow-v0.fbs' '\(fixtures)/snapshot-v0.json' && \
            zstd -q --check '\(directory.path)/snapshot-v0.bin' -o '\(target)/snapshot.fb.zst'
            """
        #expect(try shell(command).status == 0)
        let store = try FlatBuffersStore(directory: directory.path)
        let state = try await store.load(WorkflowKey(tenant: "old", id: "legacy"))
        #expect(state.fingerprint == "fnv1a64:00000000000000aa")
        #expect(state.status == .running)
        #expect(state.lastSequence == 3)
        #expect(state.input == Data("hi".utf8))
        #expect(state.definition == nil)
        #expect(state.data.isEmpty)
        #expect(state.nodes.map(\.name) == ["first", "second"])
        #expect(state.nodes.map(\.status) == [.completed, .running])
        #expect(state.nodes[0].startedAt == Date(microsecondsSince1970: 1_600_000_000_100_000))
        #expect(state.nodes[0].endedAt == nil)
        #expect(state.nodes[0].output == nil)
        #expect(state.nodes[1].attempts == 2)
        // And the list answers from the snapshot when no summary exists.
        #expect(try await store.listAll().map(\.id) == ["legacy"])
    }
}
