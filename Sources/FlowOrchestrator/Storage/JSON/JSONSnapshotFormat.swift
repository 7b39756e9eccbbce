import Foundation

/// Snapshots as readable JSON (`state.json`, `summary.json`): the baseline the binary format is
/// measured against.
struct JSONSnapshotFormat: SnapshotFormat {
    var snapshotFileNames: [String] { ["state.json"] }
    var checksNodeNames: Bool { false }
    var summaryFileName: String { "summary.json" }

    /// `summary.json`: flat fields, readable by anything.
    private struct SummaryFile: Codable {
        var tenant, id, status, fingerprint: String
        var createdAt, updatedAt: Date
        var lastSequence: UInt64
        var nodeCount, storedBytes: Int
        var nodeCounts: [String: Int]
        var reason: String?
    }

    func encode(_ state: WorkflowState) throws -> (bytes: [UInt8], fileName: String) {
        do {
            return (Array(try JSONEncoder().encode(state)), "state.json")
        } catch {
            throw FlowError(.invalidArgument, "workflow \(state.tenant)/\(state.id): cannot encode as JSON: \(error)")
        }
    }

    func decode(_ buffer: AlignedBuffer, path: String) throws -> WorkflowState {
        do {
            return try JSONDecoder().decode(WorkflowState.self, from: Data(buffer.bytes))
        } catch let error as FlowError where error.code == .newerFormat {
            throw FlowError(.newerFormat, "\(path): \(error.message)")
        } catch {
            throw FlowError(.corruptData, "\(path): not a workflow state: \(Self.describe(error))", cause: error)
        }
    }

    func encodeSummary(_ summary: WorkflowSummary) throws -> [UInt8] {
        let file = SummaryFile(
            tenant: summary.tenant, id: summary.id, status: summary.status.description,
            fingerprint: summary.fingerprint, createdAt: summary.createdAt, updatedAt: summary.updatedAt,
            lastSequence: summary.lastSequence, nodeCount: summary.nodeCount, storedBytes: summary.storedBytes,
            nodeCounts: Dictionary(uniqueKeysWithValues: summary.nodeCounts.map { ($0.key.description, $0.value) }),
            reason: summary.reason)
        do {
            return Array(try JSONEncoder().encode(file))
        } catch {
            throw FlowError(.invalidArgument, "cannot encode summary: \(error)")
        }
    }

    func decodeSummary(_ buffer: AlignedBuffer, path: String) throws -> WorkflowSummary {
        let file: SummaryFile
        do {
            file = try JSONDecoder().decode(SummaryFile.self, from: Data(buffer.bytes))
        } catch {
            throw FlowError(.corruptData, "\(path): not a workflow summary: \(Self.describe(error))", cause: error)
        }
        guard let status = WorkflowStatus(name: file.status) else {
            throw FlowError(
                .newerFormat, "\(path): workflow status \(Names.quoted(file.status)) is unknown to this version (written by a newer one?)")
        }
        var counts: [NodeStatus: Int] = [:]
        for (name, count) in file.nodeCounts {
            guard let status = NodeStatus(name: name) else {
                throw FlowError(
                    .newerFormat, "\(path): node status \(Names.quoted(name)) is unknown to this version (written by a newer one?)")
            }
            counts[status] = count
        }
        var summary = WorkflowSummary(
            WorkflowState(id: file.id, tenant: file.tenant, fingerprint: file.fingerprint, nodeNames: []),
            storedBytes: file.storedBytes)
        summary.status = status
        summary.createdAt = file.createdAt
        summary.updatedAt = file.updatedAt
        summary.lastSequence = file.lastSequence
        summary.nodeCount = file.nodeCount
        summary.nodeCounts = counts
        summary.reason = file.reason
        return summary
    }

    /// A decoding error in one line, with the JSON path where it happened.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        let (context, what): (DecodingError.Context, String) =
            switch error {
            case .dataCorrupted(let context): (context, "malformed")
            case .keyNotFound(let key, let context): (context, "missing key \(key.stringValue)")
            case .typeMismatch(_, let context): (context, "wrong type")
            case .valueNotFound(_, let context): (context, "missing value")
            @unknown default: (DecodingError.Context(codingPath: [], debugDescription: ""), "\(error)")
            }
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        let detail = (context.underlyingError as? NSError)?.userInfo["NSDebugDescription"] as? String
        return "\(what) at \(path.isEmpty ? "top level" : path)" + (detail.map { " (\($0))" } ?? "")
    }
}
