import Foundation

/// A workflow described in a definition file: what `flowctl run FILE` runs.
///
/// The format is documented in `Examples/README.md`. A value is always valid: ``DefinitionParser``
/// checks every field, the node names, the dependencies and the absence of cycles.
struct WorkflowDefinition: Sendable {
    /// The workflow's ID: the file's `id`, or its name without the extension.
    var id: String
    /// The file's `concurrency`, if it sets one.
    var concurrency: Int?
    /// The nodes, in file order.
    var nodes: [NodeDefinition]
    /// The file's bytes as read, stored with the workflow so that `resume` needs no file.
    var source: Data
}

/// One node of a definition file.
struct NodeDefinition: Sendable, Equatable {
    /// The node's name, unique in the file.
    var name: String
    /// The shell command, run with `/bin/sh -c`.
    var run: String
    /// The nodes that must complete first.
    var needs: [String] = []
    /// Attempts per run, the first included.
    var attempts = 1
    /// The wait before the first retry; later waits double.
    var backoff: Duration?
    /// How long one attempt may run.
    var timeout: Duration?
    /// Extra environment variables, in file order.
    var env: [EnvironmentEntry] = []
    /// The working directory, relative to the directory flowctl runs in.
    var cwd: String?
}

/// One `NAME: value` of a node's `env`.
struct EnvironmentEntry: Sendable, Equatable {
    var name: String
    var value: String
}

/// A definition file that cannot be used: one line naming the file, line and column.
struct DefinitionError: Error, CustomStringConvertible {
    /// The file, or a description of where the text came from.
    var origin: String
    /// 1-based line, when known.
    var line: Int?
    /// 1-based column, when known.
    var column: Int?
    /// What is wrong.
    var message: String

    var description: String {
        var place = origin
        if let line {
            place += ":\(line)"
            if let column { place += ":\(column)" }
        }
        return "\(place): \(message)"
    }
}
