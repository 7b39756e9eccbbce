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
        let fields = Fields(event.change)
        let attempt = fields.attempt > 0 ? fields.attempt : event.node.flatMap { attempts[$0] } ?? 0
        switch event.change {
        case .workflowStarted(let status), .workflowFinished(let status, _):
            line += " \(status)"
        case .nodeStarted, .nodeCompleted, .nodeFailed, .nodeRetried, .nodeInterrupted, .nodeCrashed:
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
        let fields = Fields(event.change)
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

    /// The values of a change under the names `history --format json` has always printed them
    /// with: 0 for no attempt or delay, nil for the rest.
    private struct Fields {
        var attempt = 0
        var status: WorkflowStatus?
        var error: String?
        var key: String?
        var payload: Data?
        var delayMicroseconds = 0

        init(_ change: WorkflowEvent.Change) {
            switch change {
            case .workflowStarted(let status):
                self.status = status
            case .workflowFinished(let status, let reason):
                self.status = status
                error = reason
            case .nodeStarted(_, let attempt), .nodeInterrupted(_, let attempt), .nodeCrashed(_, let attempt):
                self.attempt = attempt
            case .nodeCompleted(_, let output), .nodeMarkedCompleted(_, let output):
                payload = output
            case .nodeFailed(_, let attempt, let error):
                self.attempt = attempt ?? 0
                self.error = error
            case .nodeRetried(_, let attempt, let delay, let error):
                self.attempt = attempt
                self.error = error
                let parts = delay.components
                delayMicroseconds = Int(parts.seconds * 1_000_000 + parts.attoseconds / 1_000_000_000_000)
            case .nodeSkipped(_, let reason):
                error = reason
            case .nodeCancelled, .nodeReset:
                break
            case .dataSet(let key, let value):
                self.key = key
                payload = value
            }
        }
    }
}
