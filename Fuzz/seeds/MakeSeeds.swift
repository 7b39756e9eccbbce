// Writes the fuzz targets' seed corpora from files the library really writes:
//
//   make-seeds CORPUS_DIR EXAMPLES_DIR        (run by `scripts/fuzz.sh seeds`)
//
// Snapshots, summaries, JSON states and journals come from a FlatBuffersStore and a
// JSONFileStore on disk in a temporary directory; definition seeds are the example files plus a
// few that use every key. Each seed starts with the selector byte its harness expects.
import FBSchema
import Foundation

@testable import FlowOrchestrator

@main
struct MakeSeeds {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 3 else {
            FileHandle.standardError.write(Data("usage: make-seeds CORPUS_DIR EXAMPLES_DIR\n".utf8))
            exit(2)
        }
        let corpus = arguments[1]
        let scratch = NSTemporaryDirectory() + "flow-seeds-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var written = 0
        func write(_ target: String, _ name: String, _ selector: UInt8?, _ bytes: [UInt8]) throws {
            let directory = "\(corpus)/\(target)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let data = Data((selector.map { [$0] } ?? []) + bytes)
            try data.write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
            written += 1
        }
        func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

        // --- Snapshots, summaries and JSON states, as the stores write them.
        let key = Fixture.key
        let states: [(String, WorkflowState)] = [
            ("fixture", Fixture.state()),
            ("early", Fixture.state(through: 4)),
            ("fresh", WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "", nodeNames: ["only"])),
            ("unicode", unicodeState()),
        ]
        let fbRoot = "\(scratch)/fb"
        let jsonRoot = "\(scratch)/json"
        let fbStore = try FlatBuffersStore(directory: fbRoot)
        let jsonStore = try JSONFileStore(directory: jsonRoot)
        for (name, state) in states {
            try await fbStore.withWriter(key) { try await $0.save(state, durability: .buffered) }
            try await jsonStore.withWriter(key) { try await $0.save(state, durability: .buffered) }
            let directory = "\(fbRoot)/\(key.tenant)/\(key.id)"
            let snapshot = try read("\(directory)/snapshot.fb.zst")
            try write("snapshot", "zst-\(name)", 0, snapshot)
            let rawBytes = try FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 20)
                .withRawSnapshot(state) { Array($0) }
            try write("snapshot", "raw-\(name)", 1, rawBytes)
            try write("snapshot", "summary-\(name)", 2, try read("\(directory)/summary.fb"))
            try write("snapshot", "json-\(name)", 3, try read("\(jsonRoot)/\(key.tenant)/\(key.id)/state.json"))
            try write("fbschema", "verify-snapshot-\(name)", 0, rawBytes)
            try write("fbschema", "verify-summary-\(name)", 1, try read("\(directory)/summary.fb"))
        }

        // --- Journals: the snapshot the journal harness uses, then the fixture's later events
        // appended through the store (as a run would), in batches.
        let journalRoot = "\(scratch)/journal"
        let store = try FlatBuffersStore(directory: journalRoot)
        let base = Fixture.state(through: 4)
        let writer = try await store.acquireWriter(key)
        try await writer.save(base, durability: .fsync)
        let rest = Array(Fixture.events(after: 0).dropFirst(4))
        for batch in stride(from: 0, to: rest.count, by: 3) {
            try await writer.append(Array(rest[batch..<min(batch + 3, rest.count)]), durability: .fsync)
        }
        await writer.release()
        let journal = try read("\(journalRoot)/\(key.tenant)/\(key.id)/journal.log")
        let header = Int(FBS_JOURNAL_HEADER_SIZE)
        try write("journal", "clean", 0, journal)
        try write("journal", "clean-append", 4, journal)
        try write("journal", "clean-append-compact", 4 | 8, journal)
        try write("journal", "fixcrc-append", 1 | 4, journal)
        try write("journal", "header-only-append", 4, Array(journal.prefix(header)))
        try write("journal", "torn-append", 4, Array(journal.prefix(journal.count - 5)))
        var damaged = journal
        damaged[header + 12] ^= 0x40  // inside the first record: damage before the tail
        try write("journal", "damaged-salvage-append", 2 | 4, damaged)
        try write("journal", "damaged", 0, damaged)
        // A journal that starts before the snapshot (as after a crash mid-compaction).
        let overlap = JournalCodec.header(base: 2) + Array(try encodedFrames(Fixture.events(after: 0)[2...]))
        try write("journal", "overlap-append", 1 | 4, overlap)
        try write("fbschema", "scan-journal", 3, Array(journal.dropFirst(header)))
        try write("fbschema", "scan-damaged", 3, Array(damaged.dropFirst(header)))
        try write("fbschema", "header", 2, Array(journal.prefix(header)))
        try write("fbschema", "crc", 4, Array("123456789".utf8))

        // Encoder descriptions (the harness reads structure from the front, slices from anywhere).
        var described: [UInt8] = []
        for byte in 0..<256 { described.append(UInt8(truncatingIfNeeded: byte &* 37 &+ 11)) }
        try write("fbschema", "encode-snapshot", 5, described)
        try write("fbschema", "encode-records", 6, described)
        try write("fbschema", "encode-snapshot-text", 5, Array("\u{3}\u{1}\u{9}\u{0}\u{9}\u{10}\u{0}\u{9}\u{20}\u{0}abcdefghijklmnopqrstuvwxyz0123456789 naïve ☃ ключ".utf8))

        // --- Definition files.
        let examples = arguments[2]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: examples)) ?? []
        where name.hasSuffix(".yaml") || name.hasSuffix(".json") {
            try write("definition", "example-\(name)", nil, try read("\(examples)/\(name)"))
        }
        try write("definition", "every-key.yaml", nil, Array(everyKeyYAML.utf8))
        try write("definition", "every-key.json", nil, Array(everyKeyJSON.utf8))
        try write("definition", "anchors.yaml", nil, Array(anchorsYAML.utf8))
        print("make-seeds: wrote \(written) seeds under \(corpus)")
    }

    static func encodedFrames<S: Sequence<WorkflowEvent>>(_ events: S) throws -> [UInt8] {
        try JournalCodec.encode(Array(events)).array
    }

    static func unicodeState() -> WorkflowState {
        var state = WorkflowState(
            id: Fixture.key.id, tenant: Fixture.key.tenant, fingerprint: "ƒ-☃",
            nodeNames: ["étape-1", "шаг 2", "步骤三"], input: Data(), definition: nil,
            createdAt: Date(microsecondsSince1970: 0))
        state.nodes[0].status = .completed
        state.nodes[0].attempts = 3
        state.nodes[0].startedAt = Date(microsecondsSince1970: -1)
        state.nodes[0].endedAt = Date(microsecondsSince1970: 1)
        state.nodes[0].output = Data()
        state.nodes[1].status = .running
        state.nodes[1].lastError = ""
        state.data = ["a": Data(), "b\u{0}c": Data([0]), "ключ": Data("значение".utf8)]
        state.lastSequence = 1 << 40
        state.status = .running
        return state
    }

    static let everyKeyYAML = """
        id: release-1
        concurrency: 3
        nodes:
          - name: build
            run: make all
            retry: {attempts: 3, backoff: 500ms}
            timeout: 1h30m
            env: {MODE: release, LEVEL: 2, DEBUG: false, EMPTY: ~}
            cwd: src
          - name: test
            run: "make test"
            needs: build
          - name: "package ☃"
            run: |
              tar czf out.tgz build/
              echo done
            needs: [build, test]
            timeout: 1.5m
        """

    static let everyKeyJSON = """
        {"id": "nightly", "concurrency": 2, "nodes": [
          {"name": "fetch", "run": "curl -s example.org", "retry": {"attempts": 2, "backoff": "10s"}},
          {"name": "count", "run": "wc -l", "needs": ["fetch"], "timeout": "30s", "env": {"N": "1"}},
          {"name": "publish", "run": "echo ok", "needs": ["count", "fetch"], "cwd": "/tmp"}
        ]}
        """

    static let anchorsYAML = """
        nodes:
          - &base
            name: a
            run: echo a
          - <<: *base
            name: b
            needs: [a]
        """
}
