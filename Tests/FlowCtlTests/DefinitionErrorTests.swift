import Foundation
import Testing

/// A bad definition file: exit 2 and one line naming the file, line and column.
@Suite("flowctl definition errors")
struct DefinitionErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        var text: String
        /// `LINE:COLUMN: ` and the start of the message.
        var expected: String
        var testDescription: String { expected }
    }

    static let cases: [Case] = [
        Case(file: "a.yaml", text: "nodes:\n  - name: a\n    run: x\n    nedds: [b]\n", expected: #"4:5: unknown key "nedds""#),
        Case(file: "b.yaml", text: "nodes:\n  - name: a\n    run: x\n    needs: [zz]\n", expected: #"4:13: node "a" needs "zz", which is not defined"#),
        Case(
            file: "c.yaml",
            text: "nodes:\n  - name: a\n    run: x\n    needs: [b]\n  - name: b\n    run: x\n    needs: [a]\n",
            expected: #"4:13: dependency cycle: "a" -> "b" -> "a""#),
        Case(file: "d.yaml", text: "nodes:\n  - name: a\n    run: x\n    timeout: 5 minutes\n", expected: #"4:14: bad timeout "5 minutes""#),
        Case(file: "e.yaml", text: "nodes:\n  - name: a\n    run: [x\n", expected: "4:1: syntax error"),
        Case(file: "f.json", text: "{\n  \"nodes\": [{\"name\": \"a\", \"run\": \"x\", \"retries\": 2}]\n}\n", expected: #"2:39: unknown key "retries""#),
        Case(file: "g.yaml", text: "concurrency: 0\nnodes:\n  - name: a\n    run: x\n", expected: "1:14: concurrency must be at least 1"),
        Case(file: "h.yaml", text: "nodes:\n  - name: a\n    run: x\n    retry: {attempts: 2, backoff: soon}\n", expected: #"4:35: bad retry backoff "soon""#),
        Case(file: "l.yaml", text: "nodes:\n  - name: a\n    run: x\n    timeout: 99999999999d\n", expected: #"4:14: bad timeout "99999999999d": too large"#),
        // A NUL byte would cut the string where the system reads it: refused, not truncated.
        Case(file: "i.yaml", text: "nodes:\n  - name: a\n    run: \"echo a\\0b\"\n", expected: #"3:10: `run` of node "a" holds a NUL byte"#),
        Case(file: "j.yaml", text: "nodes:\n  - name: a\n    run: x\n    env: {X: \"a\\0b\"}\n", expected: "4:14: the value of X holds a NUL byte"),
        Case(file: "k.yaml", text: "nodes:\n  - name: a\n    run: x\n    cwd: \"/tmp\\0/etc\"\n", expected: #"4:10: `cwd` of node "a" holds a NUL byte"#),
    ]

    @Test("reports the position and exits 2", arguments: cases)
    func badFile(_ example: Case) async throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write(example.file, example.text)
        let outcome = try await sandbox.run(["run", path])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.hasPrefix("flowctl: error: \(path):\(example.expected)"), "\(outcome)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "one line: \(outcome)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.store + "/default"), "nothing stored")
    }
}
