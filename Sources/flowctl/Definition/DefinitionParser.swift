import FlowOrchestrator
import Foundation
import Yams

/// Reads definition files (YAML, or JSON, which Yams reads as YAML) into ``WorkflowDefinition``s.
///
/// The file is composed into Yams `Node`s, which keep the line and column of every key and
/// value, and walked by hand so that every problem (an unknown key, a wrong type, a bad duration,
/// an unknown node in `needs`, a cycle) is reported with its position.
struct DefinitionParser {
    /// Where the text came from, for messages: a path, or `stored definition of ID`.
    let origin: String

    /// Parses the file at `path`; its ID defaults to the file name without the extension.
    static func parse(file path: String) throws(DefinitionError) -> WorkflowDefinition {
        let data: Data
        do {
            data = try FileBytes.read(path)
        } catch {
            throw DefinitionError(origin: path, message: "cannot read the file: \(error.description)")
        }
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try DefinitionParser(origin: path).parse(data, defaultID: stem)
    }

    /// Parses `data`; `defaultID` is used when the text has no `id`.
    func parse(_ data: Data, defaultID: String?) throws(DefinitionError) -> WorkflowDefinition {
        guard let text = String(data: data, encoding: .utf8) else {
            throw DefinitionError(origin: origin, message: "the file is not valid UTF-8")
        }
        let root: Node?
        do {
            // The basic resolver: values are read as text here (numbers by `Node.int`), so the
            // default one's regular expressions for every scalar (a third of a large file's
            // parse time) buy nothing.
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw yamlError(error)
        } catch {
            throw DefinitionError(origin: origin, message: "cannot parse the file: \(error)")
        }
        guard let root else {
            throw DefinitionError(origin: origin, line: 1, column: 1, message: "the file is empty")
        }
        return try definition(from: root, source: data, defaultID: defaultID)
    }

    // MARK: The document

    private static let topKeys = ["id", "concurrency", "nodes"]
    private static let nodeKeys = ["name", "run", "needs", "retry", "timeout", "env", "cwd"]
    private static let retryKeys = ["attempts", "backoff"]

    private func definition(from root: Node, source: Data, defaultID: String?) throws(DefinitionError)
        -> WorkflowDefinition
    {
        let fields = try mapping(root, what: "the file", allowed: Self.topKeys)
        var id = defaultID
        var idNode: Node?
        if let node = fields["id"] {
            id = try string(node, what: "id")
            idNode = node
        }
        guard let id else {
            throw error(at: root, "the definition has no `id` and no file name to take it from")
        }
        do {
            _ = try WorkflowKey(id: id)
        } catch {
            let origin = idNode == nil ? " (taken from the file name; set `id` to choose another)" : ""
            throw self.error(at: idNode ?? root, error.message + origin)
        }
        var concurrency: Int?
        if let node = fields["concurrency"] {
            concurrency = try integer(node, what: "concurrency", minimum: 1)
        }
        guard let nodesNode = fields["nodes"] else {
            throw error(at: root, "missing key `nodes` (the list of nodes to run)")
        }
        guard let items = nodesNode.sequence, !items.isEmpty else {
            throw error(at: nodesNode, "`nodes` must be a non-empty list of nodes")
        }
        var nodes: [NodeDefinition] = []
        var places: [String: Node] = [:]
        var needsPlaces: [String: [Node]] = [:]
        for item in items {
            let (node, nameNode, needNodes) = try nodeDefinition(item)
            if places[node.name] != nil {
                throw error(at: nameNode, "node \(quoted(node.name)) is defined twice")
            }
            places[node.name] = nameNode
            needsPlaces[node.name] = needNodes
            nodes.append(node)
        }
        try checkDependencies(nodes, needsPlaces: needsPlaces, places: places)
        return WorkflowDefinition(id: id, concurrency: concurrency, nodes: nodes, source: source)
    }

    private func nodeDefinition(_ item: Node) throws(DefinitionError) -> (NodeDefinition, Node, [Node]) {
        let fields = try mapping(item, what: "a node", allowed: Self.nodeKeys)
        guard let nameNode = fields["name"] else { throw error(at: item, "node without a `name`") }
        let name = try string(nameNode, what: "name")
        if let problem = Names.problem(with: name) {
            throw error(at: nameNode, "node name \(quoted(name)) \(problem)")
        }
        guard let runNode = fields["run"] else {
            throw error(at: item, "node \(quoted(name)) has no `run` command")
        }
        var node = NodeDefinition(name: name, run: try string(runNode, what: "run"))
        if node.run.trimmingSpaces().isEmpty { throw error(at: runNode, "`run` of node \(quoted(name)) is empty") }
        try refuseNUL(node.run, at: runNode, what: "`run` of node \(quoted(name))")
        var needNodes: [Node] = []
        if let needs = fields["needs"] {
            if let list = needs.sequence {
                needNodes = Array(list)
            } else if needs.scalar != nil {
                needNodes = [needs]
            } else {
                throw error(at: needs, "`needs` must be a list of node names")
            }
            for need in needNodes {
                let dependency = try string(need, what: "a `needs` entry")
                if node.needs.contains(dependency) {
                    throw error(at: need, "node \(quoted(name)) lists \(quoted(dependency)) twice in `needs`")
                }
                node.needs.append(dependency)
            }
        }
        if let retry = fields["retry"] {
            let retryFields = try mapping(retry, what: "`retry`", allowed: Self.retryKeys)
            if let attempts = retryFields["attempts"] {
                node.attempts = try integer(attempts, what: "retry attempts", minimum: 1)
            }
            if let backoff = retryFields["backoff"] {
                node.backoff = try duration(backoff, what: "retry backoff")
            }
        }
        if let timeout = fields["timeout"] {
            node.timeout = try duration(timeout, what: "timeout")
            if node.timeout! <= .zero { throw error(at: timeout, "timeout must be longer than zero") }
        }
        if let env = fields["env"] {
            guard let pairs = env.mapping else {
                throw error(at: env, "`env` must be a mapping of variable names to values")
            }
            for (key, value) in pairs {
                let variable = try string(key, what: "an environment variable name")
                guard EnvironmentName.isValid(variable) else {
                    throw error(at: key, "\(quoted(variable)) is not a valid environment variable name")
                }
                guard let scalar = value.scalar else {
                    throw error(at: value, "the value of \(variable) must be a string, number or boolean")
                }
                let text = value.null == nil ? scalar.string : ""
                try refuseNUL(text, at: value, what: "the value of \(variable)")
                node.env.append(EnvironmentEntry(name: variable, value: text))
            }
        }
        if let cwd = fields["cwd"] {
            node.cwd = try string(cwd, what: "cwd")
            if node.cwd!.isEmpty { throw error(at: cwd, "`cwd` is empty") }
            try refuseNUL(node.cwd!, at: cwd, what: "`cwd` of node \(quoted(name))")
        }
        return (node, nameNode, needNodes)
    }

    /// Unknown dependencies, clashing output variable names and cycles.
    private func checkDependencies(
        _ nodes: [NodeDefinition], needsPlaces: [String: [Node]], places: [String: Node]
    ) throws(DefinitionError) {
        let names = Set(nodes.map(\.name))
        for node in nodes {
            var variables: [String: String] = [:]
            for (position, dependency) in node.needs.enumerated() {
                let place = needsPlaces[node.name]![position]
                guard names.contains(dependency) else {
                    throw error(
                        at: place,
                        "node \(quoted(node.name)) needs \(quoted(dependency)), which is not defined in this file")
                }
                let variable = EnvironmentName.output(of: dependency)
                if let other = variables[variable] {
                    throw error(
                        at: place,
                        "node \(quoted(node.name)) needs \(quoted(other)) and \(quoted(dependency)), whose outputs would share the variable \(variable); rename one")
                }
                variables[variable] = dependency
            }
        }
        do {
            _ = try DAG(nodes: nodes.map { DAG.Node($0.name, dependsOn: $0.needs) { _ in .empty } })
        } catch {
            // The library names the cycle's path; point at the `needs` of the first node on it.
            let onCycle = nodes.first { error.message.contains(quoted($0.name) + " ->") }
            let place = onCycle.flatMap { needsPlaces[$0.name]?.first ?? places[$0.name] }
            throw DefinitionError(
                origin: origin, line: place?.mark?.line, column: place?.mark?.column, message: error.message)
        }
    }

    // MARK: Typed values

    /// The entries of a mapping, keyed by their text; unknown or repeated keys are errors.
    private func mapping(_ node: Node, what: String, allowed: [String]) throws(DefinitionError) -> [String: Node] {
        guard let pairs = node.mapping else {
            throw error(at: node, "\(what) must be a mapping of keys (\(allowed.joined(separator: ", "))) to values")
        }
        var fields: [String: Node] = [:]
        for (key, value) in pairs {
            let name = key.scalar?.string ?? ""
            guard allowed.contains(name) else {
                throw error(
                    at: key,
                    "unknown key \(quoted(name)) in \(what) (expected \(allowed.joined(separator: ", ")))")
            }
            guard fields[name] == nil else { throw error(at: key, "key \(quoted(name)) appears twice") }
            fields[name] = value
        }
        return fields
    }

    private func string(_ node: Node, what: String) throws(DefinitionError) -> String {
        guard let scalar = node.scalar else { throw error(at: node, "\(what) must be a string") }
        if node.null != nil, scalar.style == .plain { throw error(at: node, "\(what) is empty") }
        return scalar.string
    }

    private func integer(_ node: Node, what: String, minimum: Int) throws(DefinitionError) -> Int {
        guard node.scalar != nil, let value = node.int else {
            throw error(at: node, "\(what) must be a whole number")
        }
        guard value >= minimum else { throw error(at: node, "\(what) must be at least \(minimum)") }
        return value
    }

    private func duration(_ node: Node, what: String) throws(DefinitionError) -> Duration {
        guard let text = node.scalar?.string, let value = DurationText.parse(text) else {
            let shown = node.scalar.map { " \(quoted($0.string))" } ?? ""
            if let text = node.scalar?.string, DurationText.isTooLarge(text) {
                throw error(at: node, "bad \(what)\(shown): too large (the most is about 31,000 years)")
            }
            throw error(at: node, "bad \(what)\(shown): expected \(DurationText.expected)")
        }
        return value
    }

    /// A NUL byte would end the string where the system reads it (a command, a variable, a path),
    /// silently running something else: it is a definition error.
    private func refuseNUL(_ text: String, at node: Node, what: String) throws(DefinitionError) {
        if text.utf8.contains(0) { throw error(at: node, "\(what) holds a NUL byte") }
    }

    // MARK: Errors

    private func error(at node: Node, _ message: String) -> DefinitionError {
        DefinitionError(origin: origin, line: node.mark?.line, column: node.mark?.column, message: message)
    }

    private func yamlError(_ error: YamlError) -> DefinitionError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return DefinitionError(
                origin: origin, line: mark.line, column: mark.column, message: "syntax error: \(problem)\(during)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map(quoted).joined(separator: ", ")
            return DefinitionError(
                origin: origin, line: context.mark.line, column: context.mark.column,
                message: "the mapping starting here repeats the key(s) \(keys)")
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = offset.map { Self.position(ofCharacter: $0, in: yaml) } ?? (nil, nil)
            return DefinitionError(origin: origin, line: line, column: column, message: "cannot read: \(problem)")
        default:
            return DefinitionError(origin: origin, message: "cannot parse: \(error)")
        }
    }

    /// The 1-based line and column of the `offset`th character of `text`.
    private static func position(ofCharacter offset: Int, in text: String) -> (Int?, Int?) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private func quoted(_ text: String) -> String { TextFormat.quoted(text) }
}
