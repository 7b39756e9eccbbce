import FlowOrchestrator
import Foundation

/// Text and JSON views of a stored workflow.
enum StatusReport {
    /// `5/5 nodes completed, 1 failed, 2 skipped`.
    static func counts(_ state: WorkflowState) -> String {
        let counts = state.statusCounts
        var parts = ["\(counts[.completed] ?? 0)/\(state.nodes.count) nodes completed"]
        for status in [NodeStatus.running, .waiting, .interrupted, .failed, .skipped, .cancelled, .pending] {
            if let count = counts[status] { parts.append("\(count) \(status)") }
        }
        return parts.joined(separator: ", ")
    }

    /// What `run` prints for a workflow that already ended.
    static func finishedRunLine(_ state: WorkflowState) -> String {
        let id = state.id
        switch state.status {
        case .completed:
            return "workflow \(id) already completed: \(counts(state)); use --restart to run it again"
        default:
            return "workflow \(id) \(state.status): \(counts(state)); rerun failed nodes with `flowctl reset \(id) --failed` and `flowctl resume \(id)`, or start over with --restart"
        }
    }

    /// The `status` text: a header and a table of nodes.
    static func text(_ state: WorkflowState) -> String {
        var lines = [
            "workflow \(state.tenant)/\(state.id): \(state.status)",
            "\(counts(state)); created \(TextFormat.iso8601(state.createdAt)), updated \(TextFormat.iso8601(state.updatedAt))",
            "",
        ]
        var rows = [["NODE", "STATUS", "ATTEMPTS", "TIME", "OUTPUT", "ERROR"]]
        for node in state.nodes {
            var time = ""
            if let started = node.startedAt, let ended = node.endedAt, ended >= started {
                time = DurationText.format(.seconds(ended.timeIntervalSince(started)))
            }
            rows.append([
                node.name, "\(node.status)", "\(node.attempts)", time,
                node.output.map { TextFormat.bytes($0.count) } ?? "",
                node.lastError.map { TextFormat.oneLine($0, limit: 120) } ?? "",
            ])
        }
        lines.append(TextFormat.table(rows))
        return lines.joined(separator: "\n")
    }

    /// The `show` JSON, in the documented shape.
    static func json(_ state: WorkflowState) -> JSONText {
        .object([
            ("id", .string(state.id)),
            ("tenant", .string(state.tenant)),
            ("status", .string("\(state.status)")),
            ("created_at", .date(state.createdAt)),
            ("updated_at", .date(state.updatedAt)),
            (
                "nodes",
                .array(
                    state.nodes.map { node in
                        .object([
                            ("name", .string(node.name)),
                            ("status", .string("\(node.status)")),
                            ("attempts", .number(Int(node.attempts))),
                            ("started_at", .date(node.startedAt)),
                            ("ended_at", .date(node.endedAt)),
                            ("error", .string(node.lastError)),
                            ("output_bytes", .number(node.output?.count ?? 0)),
                        ])
                    })
            ),
        ])
    }
}
