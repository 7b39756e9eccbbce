import Foundation

/// Workflow events as CloudEvents 1.0 in the JSON event format, one object per line.
///
/// Attributes: `specversion` "1.0"; `id` "TENANT/WORKFLOW/SEQUENCE" (unique per source);
/// `source` "/floworchestrator/TENANT/WORKFLOW" (a URI reference, percent-encoded);
/// `type` "io.floworchestrator." + the event kind (e.g. `node.completed`); `time` (RFC 3339,
/// microseconds, UTC); `subject` the node name for node events; `datacontenttype`
/// "application/json"; extensions `workflowid`, `tenant` and `sequence`. `data` carries the
/// attempt, error, key, workflow status, retry delay and the payload (output or value) as
/// base64.
public enum CloudEvent {
    /// The type prefix of every event.
    public static let typePrefix = "io.floworchestrator."

    /// The CloudEvents JSON object of `event` of the workflow `key`, as one line.
    public static func json(_ event: WorkflowEvent, workflow key: WorkflowKey) -> String {
        var object: [String: Any] = [
            "specversion": "1.0",
            "id": "\(key.tenant)/\(key.id)/\(event.sequence)",
            "source": "/floworchestrator/\(percentEncoded(key.tenant))/\(percentEncoded(key.id))",
            "type": typePrefix + event.kind.description,
            "time": event.time.rfc3339Microseconds,
            "datacontenttype": "application/json",
            "workflowid": key.id,
            "tenant": key.tenant,
            "sequence": event.sequence,
        ]
        if let node = event.node { object["subject"] = node }
        var data: [String: Any] = [:]
        switch event.change {
        case .workflowStarted(let status):
            data["workflow_status"] = status.description
        case .workflowFinished(let status, let reason):
            data["workflow_status"] = status.description
            if let reason { data["error"] = reason }
        case .nodeStarted(_, let attempt):
            data["attempt"] = attempt
        case .nodeCompleted(_, let output), .nodeMarkedCompleted(_, let output):
            data["payload_base64"] = output.base64EncodedString()
        case .nodeFailed(_, _, let error):
            data["error"] = error
        case .nodeRetried(_, let attempt, let delay, let error):
            data["attempt"] = attempt
            data["error"] = error
            if delay != .zero { data["delay_us"] = delay.microseconds }
        case .nodeSkipped(_, let reason):
            data["error"] = reason
        case .nodeCrashed(_, _, let error):
            data["error"] = error
        case .nodeCancelled, .nodeReset, .nodeInterrupted:
            break
        case .dataSet(let key, let value):
            data["key"] = key
            if let value { data["payload_base64"] = value.base64EncodedString() }
        }
        object["data"] = data
        guard
            let bytes = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }  // unreachable: every value above is a JSON type
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func percentEncoded(_ segment: String) -> String {
        // RFC 3986 unreserved characters only: anything else, Unicode included, is encoded.
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }
}
