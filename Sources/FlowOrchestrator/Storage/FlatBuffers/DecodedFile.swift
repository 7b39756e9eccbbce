import FBSchema
import Foundation

/// One raw store file, decoded: what `flowctl dump` shows.
public enum DecodedFile: Sendable {
    /// A snapshot (`snapshot.fb.zst`, or an archived one).
    case snapshot(WorkflowState)
    /// A summary (`summary.fb`).
    case summary(WorkflowSummary)
    /// A journal (`journal.log`, or an archived one): the sequence it follows, its good records,
    /// and the damage that ended it early, with its byte offset, if any.
    case journal(baseSequence: UInt64, events: [WorkflowEvent], damage: String?)
}

extension FlatBuffersStore {
    /// Decodes the file at `path`, recognised by its first bytes, with the same checks as a
    /// load. Throws `corruptData` naming the file for anything else or anything damaged.
    public static func decodeFile(atPath path: String, maxBytes: Int = 1 << 30) throws -> DecodedFile {
        let io = FileIO(layer: SystemFileLayer())
        guard let buffer = try io.readFile(path, limit: maxBytes) else {
            throw FlowError(.notFound, "\(path): no such file")
        }
        let format = FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: maxBytes)
        switch fbs_identify(buffer.bytes.baseAddress, buffer.count) {
        case FBS_FILE_ZSTD:
            return .snapshot(try format.decode(buffer, path: path).validated(path: path, nodeNamesChecked: true))
        case FBS_FILE_SUMMARY:
            return .summary(try format.decodeSummary(buffer, path: path))
        case FBS_FILE_JOURNAL:
            let (header, scan) = try JournalCodec.scan(buffer.bytes, path: path)
            let damage = scan.damage.map { "damaged at offset \($0.offset): \($0.message)" }
            return .journal(baseSequence: header.base_sequence, events: scan.events, damage: damage)
        default:
            throw FlowError(
                .corruptData, "\(path): not a FlowOrchestrator file (neither a zstd snapshot, a summary nor a journal)")
        }
    }

    /// The damage of the journal at `path` when valid records follow it (damage a load refuses
    /// unless salvaging): its file offset and what is wrong there. Nil for a sound journal, one
    /// torn only at its tail, or no journal. Reads the frames only (their CRCs), no snapshot.
    public static func damageBeforeTail(ofJournal path: String, maxBytes: Int = 4 << 30) throws -> (offset: Int, message: String)? {
        let io = FileIO(layer: SystemFileLayer())
        guard let buffer = try io.readFile(path, limit: maxBytes) else { return nil }
        let (_, scan) = try JournalCodec.scan(buffer.bytes, path: path)
        guard let damage = scan.damage, !damage.isTail else { return nil }
        return (damage.offset, damage.message)
    }
}
