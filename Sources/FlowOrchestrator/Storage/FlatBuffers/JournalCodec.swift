import FBSchema
import Foundation

/// Journal records (Schemas/journal.fbs) to and from ``WorkflowEvent``s. Framing, checksums and
/// validation happen on the C side; see docs/format.md.
enum JournalCodec {
    /// The bytes of a journal file's header for a journal that follows sequence `base`.
    static func header(base: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(FBS_JOURNAL_HEADER_SIZE))
        _ = bytes.withUnsafeMutableBytes { fbs_journal_header_encode(base, $0.baseAddress, $0.count) }
        return bytes
    }

    /// The framed records of `events`, ready to append.
    static func encode(_ events: [WorkflowEvent]) throws -> FBSBuffer {
        var arena = Arena(capacity: events.count * 32)
        var records = [fbs_record_in]()
        records.reserveCapacity(events.count)
        let absent = fbs_slice(offset: 0, length: FBS_ABSENT)
        for event in events {
            var record = fbs_record_in()
            record.sequence = event.sequence
            record.time_us = event.time.microsecondsSince1970
            record.node = absent
            record.error = absent
            record.key = absent
            record.payload = absent
            record.node_index = event.nodeIndex
            switch event.change {
            case .workflowStarted(let status):
                record.kind = FBS_EVENT_WORKFLOW_STARTED
                record.workflow_status = fbs_workflow_status(UInt32(status.rawValue))
            case .workflowFinished(let status, let reason):
                record.kind = FBS_EVENT_WORKFLOW_FINISHED
                record.workflow_status = fbs_workflow_status(UInt32(status.rawValue))
                record.error = arena.add(reason)
            case .nodeInterrupted(let node, let attempt):
                record.kind = FBS_EVENT_NODE_INTERRUPTED
                record.node = arena.add(node)
                record.attempt = UInt32(clamping: attempt ?? 0)
            case .nodeCrashed(let node, let attempt, let error):
                record.kind = FBS_EVENT_NODE_CRASHED
                record.node = arena.add(node)
                record.attempt = UInt32(clamping: attempt)
                record.error = arena.add(error)
            case .nodeStarted(let node, let attempt):
                record.kind = FBS_EVENT_NODE_STARTED
                record.node = arena.add(node)
                record.attempt = UInt32(clamping: attempt)
            case .nodeCompleted(let node, let output):
                record.kind = FBS_EVENT_NODE_COMPLETED
                record.node = arena.add(node)
                record.payload = arena.add(output)
            case .nodeMarkedCompleted(let node, let output):
                record.kind = FBS_EVENT_NODE_MARKED_COMPLETED
                record.node = arena.add(node)
                record.payload = arena.add(output)
            case .nodeFailed(let node, let attempt, let error):
                record.kind = FBS_EVENT_NODE_FAILED
                record.node = arena.add(node)
                record.attempt = UInt32(clamping: attempt ?? 0)
                record.error = arena.add(error)
            case .nodeRetried(let node, let attempt, let delay, let error):
                record.kind = FBS_EVENT_NODE_RETRIED
                record.node = arena.add(node)
                record.attempt = UInt32(clamping: attempt)
                record.error = arena.add(error)
                record.delay_us = delay.microseconds
            case .nodeSkipped(let node, let reason):
                record.kind = FBS_EVENT_NODE_SKIPPED
                record.node = arena.add(node)
                record.error = arena.add(reason)
            case .nodeCancelled(let node):
                record.kind = FBS_EVENT_NODE_CANCELLED
                record.node = arena.add(node)
            case .nodeReset(let node):
                record.kind = FBS_EVENT_NODE_RESET
                record.node = arena.add(node)
            case .dataSet(let key, let value):
                record.kind = FBS_EVENT_DATA_SET
                record.key = arena.add(key)
                record.payload = arena.add(value)
            }
            records.append(record)
        }
        var output = fbs_buffer()
        var error = fbs_error()
        let code = arena.bytes.withUnsafeBytes { arenaBytes in
            fbs_records_encode(records, records.count, arenaBytes.baseAddress, arenaBytes.count, &output, &error)
        }
        guard code == FBS_OK else {
            throw FlowError(.invalidArgument, "cannot encode journal records: \(error.text)")
        }
        return FBSBuffer(output)
    }

    /// The event a verified record view describes. Throws `corruptData` for a record that lacks
    /// what its kind needs (a node event without a node, a data event without a key), and
    /// `newerFormat` for a kind or status this code does not know.
    static func event(_ view: fbs_record_view) throws(FlowError) -> WorkflowEvent {
        func node() throws(FlowError) -> String {
            guard let node = view.node.string else { throw missing("node") }
            return node
        }
        func status() throws(FlowError) -> WorkflowStatus {
            guard let status = WorkflowStatus(rawValue: UInt8(truncatingIfNeeded: view.workflow_status.rawValue)) else {
                throw FlowError(
                    .newerFormat, "record \(view.sequence): workflow status \(view.workflow_status.rawValue) is not known")
            }
            return status
        }
        func missing(_ field: String) -> FlowError {
            FlowError(.corruptData, "record \(view.sequence) (\(view.kind.rawValue)) has no \(field)")
        }
        let attempt = Int(view.attempt)
        let change: WorkflowEvent.Change
        switch view.kind {
        case FBS_EVENT_WORKFLOW_STARTED: change = .workflowStarted(status: try status())
        case FBS_EVENT_WORKFLOW_FINISHED: change = .workflowFinished(status: try status(), reason: view.error.string)
        case FBS_EVENT_NODE_INTERRUPTED:
            change = .nodeInterrupted(node: try node(), attempt: attempt > 0 ? attempt : nil)
        case FBS_EVENT_NODE_CRASHED:
            change = .nodeCrashed(node: try node(), attempt: attempt, error: view.error.string ?? "")
        case FBS_EVENT_NODE_STARTED: change = .nodeStarted(node: try node(), attempt: attempt)
        case FBS_EVENT_NODE_COMPLETED: change = .nodeCompleted(node: try node(), output: view.payload.bytes ?? Data())
        case FBS_EVENT_NODE_MARKED_COMPLETED:
            change = .nodeMarkedCompleted(node: try node(), output: view.payload.bytes ?? Data())
        case FBS_EVENT_NODE_FAILED:
            change = .nodeFailed(node: try node(), attempt: attempt > 0 ? attempt : nil, error: view.error.string ?? "")
        case FBS_EVENT_NODE_RETRIED:
            change = .nodeRetried(
                node: try node(), attempt: attempt, delay: .microseconds(view.delay_us), error: view.error.string ?? "")
        case FBS_EVENT_NODE_SKIPPED: change = .nodeSkipped(node: try node(), reason: view.error.string ?? "")
        case FBS_EVENT_NODE_CANCELLED: change = .nodeCancelled(node: try node())
        case FBS_EVENT_NODE_RESET: change = .nodeReset(node: try node())
        case FBS_EVENT_DATA_SET:
            guard let key = view.key.string else { throw missing("key") }
            change = .dataSet(key: key, value: view.payload.bytes)
        default:
            throw FlowError(.newerFormat, "record \(view.sequence): event kind \(view.kind.rawValue) is not known")
        }
        return WorkflowEvent(
            sequence: view.sequence, time: Date(microsecondsSince1970: view.time_us), change: change,
            nodeIndex: view.node_index)
    }

    /// What a scan of a journal's frames found.
    struct Scan {
        /// The events of the good frames, in file order.
        var events: [WorkflowEvent] = []
        /// The file offset where the good prefix ends.
        var goodEnd: Int
        /// Why the scan stopped early, with the file offset of the bad frame; nil at a clean end.
        var damage: (offset: Int, message: String, isTail: Bool)?
        /// A frame that is intact (its CRC matches) but holds a status or event kind this
        /// version does not know, with its file offset: written by a newer version, not damage.
        var newer: (offset: Int, message: String)?
        /// The scanner stopped at a frame cut by the end of the bytes it was given (or zero fill
        /// up to that end): a torn tail when those bytes end the file, else a frame that goes on.
        var cutByEnd = false

        /// Throws `newerFormat` naming `path` when the scan stopped at a record of a newer
        /// version (see ``newer``).
        func requireKnownRecords(path: String) throws {
            if let newer {
                throw FlowError(
                    .newerFormat, "\(path): record at offset \(newer.offset): \(newer.message) (written by a newer version?)")
            }
        }

        /// Throws `corruptData` unless the records are numbered `base + 1`, `base + 2`, ... with
        /// no gap, repeat or step back (ADR 3): the rule every reader of a journal applies, so
        /// that a repeated or misplaced record is never dropped without a word.
        func requireConsecutive(after base: UInt64, path: String) throws {
            var previous = base
            for event in events {
                guard event.sequence == previous &+ 1 else {
                    throw FlowError(
                        .corruptData, "\(path): record \(event.sequence) follows record \(previous); records must be consecutive")
                }
                previous = event.sequence
            }
        }
    }

    /// Reads every good frame of `buffer` (a whole journal file, header included, 8-aligned) and
    /// classifies the damage that stopped it: a torn or corrupt *tail* (nothing valid after the
    /// bad frame) or damage *before* the tail (a valid frame follows somewhere after it).
    static func scan(_ buffer: UnsafeRawBufferPointer, path: String) throws -> (header: fbs_journal_header, scan: Scan) {
        var header = fbs_journal_header()
        var error = fbs_error()
        guard fbs_journal_header_parse(buffer.baseAddress, buffer.count, &header, &error) == FBS_OK else {
            if error.code == FBS_ERR_UNSUPPORTED_VERSION {
                throw FlowError(.unsupportedFormat, "\(path): \(error.text)")
            }
            throw FlowError(.corruptData, "\(path): bad journal header: \(error.text)")
        }
        let scan = scanFrames(buffer, from: Int(FBS_JOURNAL_HEADER_SIZE))
        try scan.requireKnownRecords(path: path)
        return (header, scan)
    }

    /// Reads the good frames of `buffer` from `start` (a frame boundary, 8-aligned in memory),
    /// as ``scan(_:path:)`` does after the header. `base` is the file offset of `buffer`'s first
    /// byte: the damage's offset and message are file offsets (`goodEnd` stays in the buffer).
    static func scanFrames(_ buffer: UnsafeRawBufferPointer, from start: Int, base: Int = 0) -> Scan {
        var scan = Scan(goodEnd: start)
        var offset = start
        var views = [fbs_record_view](repeating: fbs_record_view(), count: 4096)
        while true {
            var result = fbs_scan_result()
            let pieceStart = offset
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            _ = views.withUnsafeMutableBufferPointer { views in
                fbs_records_scan(rest.baseAddress, rest.count, views.baseAddress, views.count, &result)
            }
            for view in views.prefix(result.count) {
                do {
                    scan.events.append(try event(view))
                } catch {
                    // A frame whose checksum and verifier pass was written whole: one that does
                    // not decode is never a torn tail to cut, it is damage (an error unless salvaging).
                    let bad = offset + Int(view.frame_offset)
                    scan.goodEnd = bad
                    if error.code == .newerFormat {
                        scan.newer = (base + bad, error.message)
                    } else {
                        scan.damage = (base + bad, error.message, false)
                    }
                    return scan
                }
            }
            offset += Int(result.consumed)
            scan.goodEnd = offset
            switch result.stop {
            case FBS_SCAN_FULL:
                continue
            case FBS_SCAN_END:
                return scan
            case FBS_SCAN_BAD_RECORD where result.error.code == FBS_ERR_BAD_ENUM:
                scan.newer = (offset, result.error.text)
                return scan
            default:
                scan.cutByEnd = result.stop == FBS_SCAN_TORN_TAIL
                let isTail = result.stop == FBS_SCAN_TORN_TAIL || !hasValidFrame(in: buffer, after: offset)
                let frame = base + offset
                scan.damage = (frame, damageText(result.error, frame: frame, pieceStart: base + pieceStart), isTail)
                return scan
            }
        }
    }

    /// The C scanner's message about the bad frame at file offset `frame`, without the offsets it
    /// counts from the start of the piece it was given: the frame's file offset is said by the
    /// caller, and an offset inside the frame is given as a file offset.
    private static func damageText(_ error: fbs_error, frame: Int, pieceStart: Int) -> String {
        var message = withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if message.hasPrefix("frame at "), let colon = message.firstIndex(of: ":") {
            message = String(message[message.index(after: colon)...].drop { $0 == " " })
        }
        if error.offset != FBS_NO_OFFSET {
            let at = pieceStart + Int(error.offset)
            if at != frame { message += " at offset \(at)" }
        }
        return message.isEmpty ? "bad frame" : message
    }

    /// Whether any 8-aligned offset past the bad frame at `offset` starts a frame that passes
    /// every check: if one does, the damage is not confined to the tail.
    private static func hasValidFrame(in buffer: UnsafeRawBufferPointer, after offset: Int) -> Bool {
        // A frame's payload is a Record FlatBuffer: its identifier "FLWJ" sits 12 bytes into the
        // frame. Only candidates that have it are checked in full (length, CRC, verifier), so a
        // damaged journal costs one pass, not one CRC per 8 bytes.
        let identifier: [UInt8] = Array("FLWJ".utf8)
        // A crafted journal can carry the identifier and a long length every 8 bytes, one CRC of
        // up to the whole file each: quadratic. The CRC work is capped at a few times the file;
        // past the cap the damage counts as not confined to the tail (an error unless
        // salvaging), which refuses the file instead of dropping records silently.
        var budget = 4 * buffer.count + (1 << 20)
        var candidate = offset + Int(FBS_FRAME_ALIGNMENT)
        while candidate + Int(FBS_FRAME_HEADER_SIZE) + 8 <= buffer.count {
            if buffer[candidate + 12] == identifier[0], buffer[candidate + 13] == identifier[1],
                buffer[candidate + 14] == identifier[2], buffer[candidate + 15] == identifier[3]
            {
                // Only a length that fits costs a CRC; the C scan refuses the others at once.
                let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: candidate, as: UInt32.self)))
                if length <= buffer.count - candidate - Int(FBS_FRAME_HEADER_SIZE) { budget -= length }
                if budget < 0 { return true }
                var result = fbs_scan_result()
                let rest = UnsafeRawBufferPointer(rebasing: buffer[candidate...])
                var view = fbs_record_view()
                _ = fbs_records_scan(rest.baseAddress, rest.count, &view, 1, &result)
                if result.count > 0 { return true }
            }
            candidate += Int(FBS_FRAME_ALIGNMENT)
        }
        return false
    }
}
