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

    /// The workflow's input.
    public var input: Data { coordinator.input }

    /// The output of the completed node called `name`; nil when it has not completed.
    /// Throws `unknownNode` when the workflow has no such node.
    public func output(of name: String) throws(FlowError) -> Data? {
        try coordinator.output(of: name)
    }

    /// The output of `name` decoded from JSON (see ``NodeOutput/json(_:)``).
    public func output<T: Decodable>(of name: String, as type: T.Type) throws -> T {
        guard let data = try output(of: name) else {
            throw FlowError(.invalidArgument, "node \(Names.quoted(name)) has no output yet")
        }
        return try JSONDecoder().decode(T.self, from: data)
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
