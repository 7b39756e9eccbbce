/// How a file store turns a state into the bytes of its snapshot and summary files, and back.
///
/// Decoding treats every file as untrusted: anything that is not a complete, well-formed
/// snapshot is a `corruptData` (or `unsupportedFormat`) ``FlowError`` naming the file.
protocol SnapshotFormat: Sendable {
    /// Whether ``decode(_:path:)`` already checks node names against ``Names``' rules.
    var checksNodeNames: Bool { get }
    /// Every file name a snapshot may be stored under in a workflow's directory, preferred first.
    var snapshotFileNames: [String] { get }
    /// The name of the small summary file that answers `list` without reading the snapshot.
    var summaryFileName: String { get }
    /// The snapshot's bytes and the file name they go under.
    func encode(_ state: WorkflowState) throws -> (bytes: [UInt8], fileName: String)
    func decode(_ buffer: AlignedBuffer, path: String) throws -> WorkflowState
    func encodeSummary(_ summary: WorkflowSummary) throws -> [UInt8]
    func decodeSummary(_ buffer: AlignedBuffer, path: String) throws -> WorkflowSummary
}

extension WorkflowState {
    /// Checks what a decoder cannot: IDs and node names follow the naming rules and the layout
    /// version is one this code reads. (Node names are checked against the DAG, which makes
    /// them unique, when a workflow resumes.)
    func validated(path: String, nodeNamesChecked: Bool = false) throws -> WorkflowState {
        guard formatVersion >= 1, formatVersion <= Self.currentFormatVersion else {
            throw FlowError(
                .unsupportedFormat,
                "\(path): format version \(formatVersion); this build reads 1 to \(Self.currentFormatVersion)")
        }
        guard lastSequence < UInt64(Int64.max) else {
            throw FlowError(.corruptData, "\(path): last sequence number \(lastSequence) is out of range")
        }
        if let problem = Names.problem(with: id) { throw FlowError(.corruptData, "\(path): workflow ID \(problem)") }
        if let problem = Names.problem(with: tenant) { throw FlowError(.corruptData, "\(path): tenant ID \(problem)") }
        for (index, node) in nodes.enumerated() where !nodeNamesChecked && !Names.isValid(node.name) {
            throw FlowError(.corruptData, "\(path): node \(index) name \(Names.problem(with: node.name) ?? "")")
        }
        if let problem = shape?.problem(nodeCount: nodes.count) {
            throw FlowError(.corruptData, "\(path): the DAG's shape: \(problem)")
        }
        return self
    }
}
