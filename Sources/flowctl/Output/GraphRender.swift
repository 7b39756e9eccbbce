import FlowOrchestrator

/// DOT and Mermaid drawings of a workflow, nodes coloured by status.
struct GraphRender {
    var title: String
    var nodes: [NodeDefinition]
    /// Status per node name; nodes without one are drawn plain.
    var statuses: [String: NodeStatus]

    /// Fill and border colour per status.
    private static func colors(_ status: NodeStatus) -> (fill: String, stroke: String) {
        switch status {
        case .pending: ("#eeeeee", "#9e9e9e")
        case .running: ("#fff3b0", "#c9a400")
        case .completed: ("#c8e6c9", "#2e7d32")
        case .failed: ("#ffcdd2", "#c62828")
        case .skipped: ("#e1e1f5", "#5c6bc0")
        case .cancelled: ("#ffe0b2", "#ef6c00")
        case .waiting: ("#e3f2fd", "#1565c0")
        case .bypassed: ("#f5f5f5", "#757575")
        case .interrupted: ("#fff3e0", "#ff8f00")
        case .compensated: ("#e0f2f1", "#00695c")
        case .compensationFailed: ("#f8bbd0", "#ad1457")
        }
    }

    /// Graphviz DOT; edges point from a dependency to the node that needs it.
    func dot() -> String {
        var lines = [
            "digraph \(Self.dotQuoted(title)) {",
            "  rankdir=LR;",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\"];",
        ]
        for node in nodes {
            var attributes: [String] = []
            if let status = statuses[node.name] {
                let (fill, stroke) = Self.colors(status)
                attributes += [
                    "label=\(Self.dotQuoted(node.name + "\n" + "\(status)"))",
                    "fillcolor=\"\(fill)\"", "color=\"\(stroke)\"",
                ]
            }
            let suffix = attributes.isEmpty ? "" : " [" + attributes.joined(separator: ", ") + "]"
            lines.append("  \(Self.dotQuoted(node.name))\(suffix);")
        }
        for node in nodes {
            for dependency in node.needs {
                lines.append("  \(Self.dotQuoted(dependency)) -> \(Self.dotQuoted(node.name));")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Mermaid flowchart; node IDs are `n0`, `n1`, … so any name works as a label.
    func mermaid() -> String {
        var ids: [String: String] = [:]
        for (index, node) in nodes.enumerated() { ids[node.name] = "n\(index)" }
        var lines = ["flowchart LR"]
        for node in nodes {
            var label = Self.mermaidEscaped(node.name)
            if let status = statuses[node.name] { label += "<br/><small>\(status)</small>" }
            lines.append("  \(ids[node.name]!)[\"\(label)\"]")
        }
        for node in nodes {
            for dependency in node.needs { lines.append("  \(ids[dependency]!) --> \(ids[node.name]!)") }
        }
        for status in NodeStatus.allCases {
            let members = nodes.filter { statuses[$0.name] == status }.map { ids[$0.name]! }
            guard !members.isEmpty else { continue }
            let (fill, stroke) = Self.colors(status)
            lines.append("  classDef \(status) fill:\(fill),stroke:\(stroke),color:#000")
            lines.append("  class \(members.joined(separator: ",")) \(status)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func dotQuoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    private static func mermaidEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\"": out += "#quot;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            case "#": out += "#35;"
            default: out.append(character)
            }
        }
        return out
    }
}
