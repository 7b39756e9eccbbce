import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

@Suite("Typed input and outputs")
struct TypedIOTests {
    struct Order: Codable, Equatable {
        var id: String
        var amount: Int
    }

    struct Total: Codable, Equatable { var sum: Int }

    @Test("input(as:) and output(of:as:) decode the JSON of Codable values")
    func decodes() async throws {
        var dag = DAG()
        try dag.addNode("orders") { context in
            let day = try context.input(as: [String: String].self)["day"] ?? "?"
            return try .json([Order(id: "\(day)-1", amount: 30), Order(id: "\(day)-2", amount: 12)])
        }
        try dag.addNode("total", dependsOn: ["orders"]) { context in
            let orders = try context.output(of: "orders", as: [Order].self)
            return try .json(Total(sum: orders.reduce(0) { $0 + $1.amount }))
        }
        let input = try JSONEncoder().encode(["day": "d7"])
        let result = try await Workflow(key: try WorkflowKey(id: "typed"), dag: dag, store: InMemoryStore()).execute(input: input)
        #expect(result.status == .completed)
        #expect(try JSONDecoder().decode(Total.self, from: #require(result.state[node: "total"]?.output)) == Total(sum: 42))
        let orders = try JSONDecoder().decode([Order].self, from: #require(result.state[node: "orders"]?.output))
        #expect(orders.map(\.id) == ["d7-1", "d7-2"])
    }

    /// Runs `body` as the action of node `reader` (after `source`, which returns `output`, and in
    /// a workflow whose input is `input`) and returns the error it threw.
    private func errorReading(
        input: Data = Data(), output: NodeOutput = .empty, dependsOnSource: Bool = true,
        _ body: @escaping @Sendable (NodeContext) throws(FlowError) -> Void
    ) async throws -> FlowError? {
        let caught = Mutex<FlowError?>(nil)
        let reader: DAG.Action = { context in
            do throws(FlowError) {
                try body(context)
            } catch {
                caught.withLock { $0 = error }
            }
            return .empty
        }
        var dag = DAG()
        if dependsOnSource {
            try dag.addNode("source") { _ in output }
            try dag.addNode("reader", dependsOn: ["source"], action: reader)
        } else {
            // Added first, so with one node at a time it runs before `source`.
            try dag.addNode("reader", action: reader)
            try dag.addNode("source") { _ in output }
        }
        var options = ExecutionOptions()
        options.maxConcurrency = 1
        _ = try await Workflow(key: try WorkflowKey(id: "w"), dag: dag, store: InMemoryStore(), options: options).execute(input: input)
        return caught.withLock { $0 }
    }

    @Test("an input that is not the JSON of the type is decodingFailed naming the workflow, the type and the place")
    func badInput() async throws {
        let error = try await errorReading(input: Data(#"{"id":"x","amount":"many"}"#.utf8)) { context throws(FlowError) in
            _ = try context.input(as: Order.self)
        }
        #expect(error?.code == .decodingFailed)
        #expect(error?.message == "the input of workflow default/w is not JSON of type Order: at amount: expected Int")
        #expect(error?.cause is DecodingError)

        let empty = try await errorReading { context throws(FlowError) in _ = try context.input(as: Order.self) }
        #expect(empty?.code == .decodingFailed)
        #expect(empty?.message.hasPrefix("the input of workflow default/w is not JSON of type Order") == true)
    }

    @Test("an output that is not the JSON of the type is decodingFailed naming the node, the type and the place")
    func badOutput() async throws {
        let output = try NodeOutput.json([Order(id: "a", amount: 1), Order(id: "b", amount: 2)])
        let wrongType = try await errorReading(output: output) { context throws(FlowError) in
            _ = try context.output(of: "source", as: [Total].self)
        }
        #expect(wrongType?.code == .decodingFailed)
        #expect(
            wrongType?.message
                == #"the output of node "source" in workflow default/w is not JSON of type Array<Total>: at [0]: missing key "sum""#)

        let text = try await errorReading(output: .text("plain words")) { context throws(FlowError) in
            _ = try context.output(of: "source", as: Order.self)
        }
        #expect(text?.code == .decodingFailed)
        #expect(text?.message.hasPrefix(#"the output of node "source" in workflow default/w is not JSON of type Order: "#) == true)
    }

    @Test("reading a node the workflow lacks is unknownNode; one not completed is invalidArgument")
    func missingOutputs() async throws {
        let unknown = try await errorReading { context throws(FlowError) in
            _ = try context.output(of: "nope", as: Order.self)
        }
        #expect(unknown?.code == .unknownNode)
        #expect(unknown?.message.contains(#""nope""#) == true)

        let early = try await errorReading(dependsOnSource: false) { context throws(FlowError) in
            _ = try context.output(of: "source", as: Order.self)
        }
        #expect(early?.code == .invalidArgument)
        #expect(early?.message == #"workflow default/w: node "source" has not completed, so it has no output to read as Order"#)
    }
}
