import Foundation
import Logging

/// What a node's action can see and do while it runs.
public struct NodeContext: Sendable {
    /// The workflow's ID.
    public let workflowID: String
    /// The workflow's tenant.
    public let tenant: String
    /// This node's name.
    public let node: String
    /// This attempt's number over all runs, starting at 1. A node whose process died under it
    /// runs again with a higher number.
    public let attempt: Int
    /// The same for every attempt of this node in this workflow, so an action with side effects
    /// can make them idempotent (nodes run at least once).
    public let idempotencyKey: String
    /// The logger of the run, with the workflow and node in its metadata.
    public let logger: Logger

    let coordinator: RunCoordinator

    /// The workflow's input, as given to ``Workflow/execute(input:definition:)``.
    public var input: Data { coordinator.input }

    /// The workflow's input decoded from JSON as `type`.
    ///
    /// Throws `decodingFailed` naming the workflow, the type and where decoding stopped when the
    /// input is not the JSON of a `T` (an empty input included).
    public func input<T: Decodable>(as type: T.Type) throws(FlowError) -> T {
        try Self.decode(T.self, from: input, what: "the input of workflow \(tenant)/\(workflowID)")
    }

    /// The output of the completed node called `name`; nil when it has not completed.
    /// Throws `unknownNode` when the workflow has no such node.
    public func output(of name: String) throws(FlowError) -> Data? {
        try coordinator.output(of: name)
    }

    /// The output of the completed node called `name` decoded from JSON as `type` (what
    /// ``NodeOutput/json(_:)`` returned).
    ///
    /// Throws `unknownNode` when the workflow has no such node, `invalidArgument` when it has not
    /// completed (a node's dependencies always have), and `decodingFailed` naming the node, the
    /// type and where decoding stopped when its output is not the JSON of a `T`.
    public func output<T: Decodable>(of name: String, as type: T.Type) throws(FlowError) -> T {
        guard let data = try output(of: name) else {
            throw FlowError(
                .invalidArgument,
                "workflow \(tenant)/\(workflowID): node \(Names.quoted(name)) has not completed, so it has no output to read as \(T.self)")
        }
        return try Self.decode(T.self, from: data, what: "the output of node \(Names.quoted(name)) in workflow \(tenant)/\(workflowID)")
    }

    /// `data` decoded from JSON as `T`, or `decodingFailed` naming `what` and the type.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(FlowError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw FlowError(.decodingFailed, "\(what) is not JSON of type \(T.self): \(describe(error))", cause: error)
        } catch {
            throw FlowError(.decodingFailed, "\(what) is not JSON of type \(T.self)", cause: error)
        }
    }

    /// Where a decoding error happened and why, in a line: `at items[2].amount: expected Int`.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text.isEmpty ? "the top level" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "at \(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "at \(path(context.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            return "at \(path(context.codingPath)): missing key \(Names.quoted(key.stringValue))"
        case .dataCorrupted(let context):
            return "at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }

    /// The workflow's data value for `key`, if set.
    public func value(forKey key: String) -> Data? {
        coordinator.value(forKey: key)
    }

    /// Sets (or with nil removes) the workflow's data value for `key`.
    ///
    /// Recorded as an event; with the `node` persistence strategy it is durable when this returns,
    /// otherwise at the next checkpoint.
    public func setValue(_ value: Data?, forKey key: String) async throws {
        try await coordinator.setValue(value, forKey: key)
    }
}
