import FlowOrchestrator
import Testing

@Suite("DAG validation and levels")
struct DAGTests {
    static let noop: DAG.Action = { _ in .empty }

    @Test(
        "invalid node names are rejected with the name in the message",
        arguments: ["", ".hidden", "..", "a/b", "a\\b", "nul\0byte", "tab\there", String(repeating: "x", count: 201)])
    func invalidNames(name: String) {
        var dag = DAG()
        #expect {
            try dag.addNode(name, action: Self.noop)
        } throws: { error in
            guard let error = error as? FlowError else { return false }
            return error.code == .invalidName && error.message.hasPrefix("node \"")
        }
        #expect(dag.count == 0)
    }

    @Test("unicode and punctuation names are accepted")
    func unicodeNames() throws {
        var dag = DAG()
        try dag.addNode("données-α", action: Self.noop)
        try dag.addNode("build:release v2", dependsOn: ["données-α"], action: Self.noop)
        #expect(dag.nodeNames == ["données-α", "build:release v2"])
    }

    @Test("a duplicate name names the node")
    func duplicate() throws {
        var dag = DAG()
        try dag.addNode("fetch", action: Self.noop)
        let error = #expect(throws: FlowError.self) { try dag.addNode("fetch", action: Self.noop) }
        #expect(error?.code == .duplicateNode)
        #expect(error?.message.contains("\"fetch\"") == true)
    }

    @Test("a missing dependency names both nodes")
    func missingDependency() {
        var dag = DAG()
        let error = #expect(throws: FlowError.self) {
            try dag.addNode("build", dependsOn: ["fetch"], action: Self.noop)
        }
        #expect(error?.code == .missingDependency)
        #expect(error?.message == "node \"build\" depends on \"fetch\", which is not in the DAG")
    }

    @Test("a cycle among nodes given in any order reports its path")
    func cycleInBatch() {
        let error = #expect(throws: FlowError.self) {
            _ = try DAG(nodes: [
                .init("a", dependsOn: ["c"], action: Self.noop),
                .init("b", dependsOn: ["a"], action: Self.noop),
                .init("c", dependsOn: ["b"], action: Self.noop),
                .init("d", action: Self.noop),
            ])
        }
        #expect(error?.code == .cycle)
        #expect(error?.message == "dependency cycle: \"a\" -> \"c\" -> \"b\" -> \"a\" (each node needs the next)")
    }

    @Test("a self-dependency is a cycle")
    func selfCycle() {
        let error = #expect(throws: FlowError.self) {
            _ = try DAG(nodes: [.init("a", dependsOn: ["a"], action: Self.noop)])
        }
        #expect(error?.code == .cycle)
        #expect(error?.message.contains("\"a\" -> \"a\"") == true)
    }

    @Test("addDependency refuses to close a cycle and leaves the DAG unchanged")
    func addDependencyCycle() throws {
        var dag = DAG()
        try dag.addNode("a", action: Self.noop)
        try dag.addNode("b", dependsOn: ["a"], action: Self.noop)
        try dag.addNode("c", dependsOn: ["b"], action: Self.noop)
        let before = dag.fingerprint
        let error = #expect(throws: FlowError.self) { try dag.addDependency("a", on: "c") }
        #expect(error?.code == .cycle)
        #expect(error?.message.contains("\"a\" -> \"c\" -> \"b\" -> \"a\"") == true)
        #expect(dag.fingerprint == before)
        #expect(dag["a"]?.dependencies == [])
    }

    @Test("the batch initialiser reports missing dependencies and duplicates")
    func batchErrors() {
        let missing = #expect(throws: FlowError.self) {
            _ = try DAG(nodes: [.init("x", dependsOn: ["nope"], action: Self.noop)])
        }
        #expect(missing?.code == .missingDependency)
        let duplicate = #expect(throws: FlowError.self) {
            _ = try DAG(nodes: [.init("x", action: Self.noop), .init("x", action: Self.noop)])
        }
        #expect(duplicate?.code == .duplicateNode)
    }

    @Test("levels follow the longest dependency path, in insertion order")
    func levels() throws {
        let dag = try DAG(nodes: [
            .init("report", dependsOn: ["join"], action: Self.noop),
            .init("zeta", action: Self.noop),
            .init("join", dependsOn: ["left", "right"], action: Self.noop),
            .init("right", dependsOn: ["zeta"], action: Self.noop),
            .init("left", action: Self.noop),
            .init("alpha", action: Self.noop),
        ])
        #expect(dag.levels() == [["zeta", "left", "alpha"], ["right"], ["join"], ["report"]])
    }

    @Test("the fingerprint is stable and changes with the graph")
    func fingerprint() throws {
        func make(_ extraEdge: Bool) throws -> DAG {
            var dag = DAG()
            try dag.addNode("a", action: Self.noop)
            try dag.addNode("b", action: Self.noop)
            try dag.addNode("c", dependsOn: extraEdge ? ["a", "b"] : ["a"], action: Self.noop)
            return dag
        }
        #expect(try make(false).fingerprint == make(false).fingerprint)
        #expect(try make(false).fingerprint != make(true).fingerprint)
    }
}
