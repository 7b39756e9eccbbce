/// How a file store turns a state into the bytes of its snapshot and summary files, and back.
///
/// Decoding treats every file as untrusted: anything that is not a complete, well-formed
/// snapshot is a `corruptData` (or `unsupportedFormat`) ``FlowError`` naming the file.
protocol SnapshotFormat: Sendable {
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
    /// Checks what a decoder cannot: IDs and node names follow the naming rules, node names are
    /// unique, the layout version is one this code reads.
    func validated(path: String) throws -> WorkflowState {
        guard formatVersion >= 1, formatVersion <= Self.currentFormatVersion else {
            throw FlowError(
                .unsupportedFormat,
                "\(path): format version \(formatVersion); this build reads 1 to \(Self.currentFormatVersion)")
        }
        if let problem = Names.problem(with: id) { throw FlowError(.corruptData, "\(path): workflow ID \(problem)") }
        if let problem = Names.problem(with: tenant) { throw FlowError(.corruptData, "\(path): tenant ID \(problem)") }
        var seen = Set<String>(minimumCapacity: nodes.count)
        for (index, node) in nodes.enumerated() {
            if let problem = Names.problem(with: node.name) {
                throw FlowError(.corruptData, "\(path): node \(index) name \(problem)")
            }
            guard seen.insert(node.name).inserted else {
                throw FlowError(.corruptData, "\(path): node \(Names.quoted(node.name)) appears twice")
            }
        }
        return self
    }
}
