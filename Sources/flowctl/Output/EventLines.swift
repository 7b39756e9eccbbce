import ArgumentParser
import FlowOrchestrator
import Foundation

/// How `history` and `watch` print events.
enum EventFormat: String, CaseIterable, ExpressibleByArgument {
    /// One readable line per event.
    case text
    /// One JSON object per line with every field of the event.
    case json
    /// One CloudEvents 1.0 JSON object per line.
    case cloudevents
}

/// Turns a workflow's events, in order, into lines of one ``EventFormat``.
///
/// Completion and failure events carry no attempt number, so the text form remembers the
/// attempt of each node's last `node.started` among the events it has seen.
struct EventLines {
    let format: EventFormat
    let key: WorkflowKey
    private var attempts: [String: Int] = [:]

    init(format: EventFormat, key: WorkflowKey) {
        self.format = format
        self.key = key
    }

    /// Notes `event` without printing it (an event before `--from`).
    mutating func skip(_ event: WorkflowEvent) {
        if case .nodeStarted(let node, let attempt) = event.change { attempts[node] = attempt }
    }

    /// The line for `event`, without a newline.
    mutating func line(_ event: WorkflowEvent) -> String {
        skip(event)
        switch format {
        case .text: return text(event)
        case .json: return Self.json(event).render(indent: false)
        case .cloudevents: return CloudEvent.json(event, workflow: key)
        }
    }

    /// `#12 2025-01-31T12:00:01.250Z node.completed build (attempt 1), output 17 B`.
    private func text(_ event: WorkflowEvent) -> String {
        var line = "#\(event.sequence) \(TextFormat.iso8601(event.time)) \(event.kind)"
        if let node = event.node { line += " " + node }
        let fields = event.change.fields
        let attempt = fields.attempt > 0 ? fields.attempt : event.node.flatMap { attempts[$0] } ?? 0
        switch event.change {
        case .workflowStarted(let status), .workflowFinished(let status, _):
            line += " \(status)"
        case .nodeStarted, .nodeCompleted, .nodeFailed, .nodeRetried:
            if attempt > 0 { line += " (attempt \(attempt))" }
        case .dataSet(let key, let value):
            line += " " + TextFormat.quoted(key)
            line += value.map { " = \(TextFormat.bytes($0.count))" } ?? " removed"
        default:
            break
        }
        switch event.change {
        case .nodeCompleted(_, let output), .nodeMarkedCompleted(_, let output):
            line += ", output \(TextFormat.bytes(output.count))"
        case .nodeRetried(_, _, let delay, _):
            line += ", next attempt in \(DurationText.format(delay))"
        default:
            break
        }
        if let error = fields.error { line += ": " + TextFormat.oneLine(error) }
        return line
    }

    /// Every field of `event`: the payload as base64 with its byte count, the time in UTC with
    /// microseconds, absent values null.
    static func json(_ event: WorkflowEvent) -> JSONText {
        let fields = event.change.fields
        return .object([
            ("sequence", .number(Int(clamping: event.sequence))),
            ("time", .string(TextFormat.iso8601Microseconds(event.time))),
            ("kind", .string(event.kind.description)),
            ("node", .string(event.node)),
            ("node_index", .number(Int(event.nodeIndex))),
            ("attempt", .number(fields.attempt)),
            ("workflow_status", .string(fields.status.map(\.description))),
            ("error", .string(fields.error)),
            ("key", .string(fields.key)),
            ("payload_base64", .string(fields.payload?.base64EncodedString())),
            ("payload_bytes", fields.payload.map { .number($0.count) } ?? .null),
            ("delay_us", .number(fields.delayMicroseconds)),
        ])
    }
}
