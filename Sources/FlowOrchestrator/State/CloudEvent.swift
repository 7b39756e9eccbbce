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
        if event.kind == .nodeStarted || event.kind == .nodeRetried { data["attempt"] = event.attempt }
        if let error = event.error { data["error"] = error }
        if let key = event.key { data["key"] = key }
        if let status = event.workflowStatus { data["workflow_status"] = status.description }
        if event.delayMicroseconds != 0 { data["delay_us"] = event.delayMicroseconds }
        if let payload = event.payload { data["payload_base64"] = payload.base64EncodedString() }
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
