import Foundation
import Testing

/// `flowctl bench` measures the protobuf and SQLite peers and the floors, and a user's own state.
@Suite struct BenchPeersTests {
    static func tables(_ outcome: CLIOutcome) throws -> [String: (title: String, rows: [[String: Any]])] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome)")
        let tables = try #require(report["tables"] as? [[String: Any]])
        var byID: [String: (title: String, rows: [[String: Any]])] = [:]
        for table in tables {
            byID[table["id"] as? String ?? ""] = (table["title"] as? String ?? "", table["rows"] as? [[String: Any]] ?? [])
        }
        return byID
    }

    @Test("bench --format json has the protobuf, SQLite and floor rows")
    func peersAndFloorsInJSON() async throws {
        let sandbox = try Sandbox()
        let outcome = try await sandbox.run([
            "bench", "--format", "json", "--only", "serialization,persistence,floors", "--nodes", "200",
            "--large-output-nodes", "0", "--chain", "20", "--iterations", "1",
            "--strategies", "node/fsync,sqlite/fsync,sqlite/buffered", "--directory", sandbox.path("bench"),
        ])
        try #require(outcome.status == 0, "\(outcome)")
        let tables = try Self.tables(outcome)
        let serialization = try #require(tables["serialization"]).rows
        let strategies = Set(serialization.compactMap { $0["label"] as? String })
        for expected in ["protobuf", "protobuf+zstd-1", "protobuf+zstd-3", "protobuf+zstd-9", "FlatBuffers", "JSON"] {
            #expect(strategies.contains(expected), "\(strategies)")
        }
        let protobuf = try #require(serialization.first { $0["label"] as? String == "protobuf" })
        #expect((protobuf["bytes"] as? Int ?? 0) > 200, "\(protobuf)")
        let persistence = Set(try #require(tables["persistence"]).rows.compactMap { $0["label"] as? String })
        for expected in ["wide 200, sqlite/fsync", "wide 200, sqlite/buffered", "chain 20, sqlite/fsync", "chain 20, node/fsync"] {
            #expect(persistence.contains(expected), "\(persistence)")
        }
        let floors = try #require(tables["floors"]).rows
        #expect(floors.count == 4, "\(floors)")
        let chain = try #require(floors.first { ($0["label"] as? String ?? "").hasPrefix("20-level chain") })
        #expect((chain["floor_ms"] as? Double ?? (chain["floor_ms"] as? Int).map(Double.init) ?? 0) > 0, "\(chain)")
        #expect(chain["x_floor"] is NSNumber, "\(chain)")
    }

    @Test("bench --from ID measures the stored workflow's own state; an unknown ID is an error")
    func fromStoredWorkflow() async throws {
        let sandbox = try Sandbox()
        let file = try sandbox.write(
            "mine.yaml", "nodes:\n  - name: a\n    run: echo héllo-wörld\n  - name: b\n    run: echo two\n    needs: [a]\n")
        let ran = try await sandbox.run(["run", file, "--quiet"])
        try #require(ran.status == 0, "\(ran)")
        let outcome = try await sandbox.run([
            "bench", "--from", "mine", "--format", "json", "--only", "serialization", "--iterations", "1",
            "--directory", sandbox.path("bench"),
        ])
        try #require(outcome.status == 0, "\(outcome)")
        let table = try #require(try Self.tables(outcome)["serialization"])
        #expect(table.title.contains("mine") && table.title.contains("2 nodes"), "\(table.title)")
        #expect(table.rows.contains { $0["label"] as? String == "protobuf" }, "\(table.rows)")
        let missing = try await sandbox.run(["bench", "--from", "absent", "--only", "serialization", "--directory", sandbox.path("b2")])
        #expect(missing.status != 0, "\(missing)")
        #expect(missing.stderr.contains("absent"), "\(missing)")
    }
}
