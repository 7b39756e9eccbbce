import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl dump FILE`: decodes one raw store file to JSON.
struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode one raw store file (snapshot, summary or journal) to JSON.",
        discussion: """
            The file is recognised by its first bytes and checked as a load would check it. \
            Output: {"file","type":"snapshot","state":{...}}, {"file","type":"summary",\
            "summary":{...}} or {"file","type":"journal","base_sequence","records","damage",\
            "events":[...]}, where damage is null or {"offset","message"} (the records before it \
            are listed) and events have the fields of `history --format json`. Bytes (outputs, \
            payloads, the input, the definition) are base64 with their count; times are UTC \
            with microseconds. A file that cannot be read or decoded: one line and exit 3.
            """)

    enum Format: String, ExpressibleByArgument {
        case json
    }

    @Argument(help: ArgumentHelp("The file, e.g. .flow/default/ID/snapshot.fb.zst or journal.log.", valueName: "file"))
    var file: String

    @Option(name: .long, help: "json (the only format for now).")
    var format: Format = .json

    @Flag(name: .long, help: "Print the JSON on one line.")
    var compact = false

    func run() async throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError(
                .storeOrData,
                "\(file) is a directory; dump decodes one file of it (snapshot.fb.zst, summary.fb or journal.log)")
        }
        let decoded = try FlatBuffersStore.decodeFile(atPath: file)
        let body: [(String, JSONText)]
        switch decoded {
        case .snapshot(let state):
            body = [("type", .string("snapshot")), ("state", Self.json(state))]
        case .summary(let summary):
            body = [("type", .string("summary")), ("summary", Self.json(summary))]
        case .journal(let base, let events, let damage):
            body = [
                ("type", .string("journal")),
                ("base_sequence", .number(Int(clamping: base))),
                ("records", .number(events.count)),
                ("damage", damage.map(Self.damage) ?? .null),
                ("events", .array(events.map(EventLines.json))),
            ]
        }
        Terminal.out(JSONText.object([("file", .string(file))] + body).render(indent: !compact) + "\n")
    }

    /// `damaged at offset 1234: bad checksum` as `{"offset":1234,"message":"bad checksum"}`.
    private static func damage(_ text: String) -> JSONText {
        let prefix = "damaged at offset "
        if text.hasPrefix(prefix) {
            let rest = text.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            if let offset = Int(digits), rest.dropFirst(digits.count).hasPrefix(": ") {
                return .object([
                    ("offset", .number(offset)), ("message", .string(String(rest.dropFirst(digits.count + 2)))),
                ])
            }
        }
        return .object([("offset", .null), ("message", .string(text))])
    }

    private static func bytes(_ name: String, _ data: Data?) -> [(String, JSONText)] {
        [("\(name)_base64", .string(data?.base64EncodedString())), ("\(name)_bytes", data.map { .number($0.count) } ?? .null)]
    }

    private static func time(_ date: Date?) -> JSONText {
        date.map { .string(TextFormat.iso8601Microseconds($0)) } ?? .null
    }

    /// Every field of a snapshot's state.
    static func json(_ state: WorkflowState) -> JSONText {
        var fields: [(String, JSONText)] = [
            ("format_version", .number(Int(state.formatVersion))),
            ("id", .string(state.id)),
            ("tenant", .string(state.tenant)),
            ("status", .string(state.status.description)),
            ("fingerprint", .string(state.fingerprint)),
            ("created_at", time(state.createdAt)),
            ("updated_at", time(state.updatedAt)),
            ("last_sequence", .number(Int(clamping: state.lastSequence))),
        ]
        fields += bytes("input", state.input)
        fields += bytes("definition", state.definition)
        fields.append(
            ("data", .array(state.data.sorted { $0.key < $1.key }.map { .object([("key", .string($0.key))] + bytes("value", $0.value)) })))
        fields.append(
            (
                "nodes",
                .array(
                    state.nodes.map { node in
                        .object(
                            [
                                ("name", .string(node.name)),
                                ("status", .string(node.status.description)),
                                ("attempts", .number(Int(node.attempts))),
                                ("started_at", time(node.startedAt)),
                                ("ended_at", time(node.endedAt)),
                                ("error", .string(node.lastError)),
                            ] + bytes("output", node.output))
                    })
            ))
        return .object(fields)
    }

    /// Every field of a summary.
    static func json(_ summary: WorkflowSummary) -> JSONText {
        .object([
            ("tenant", .string(summary.tenant)),
            ("id", .string(summary.id)),
            ("status", .string(summary.status.description)),
            ("fingerprint", .string(summary.fingerprint)),
            ("created_at", time(summary.createdAt)),
            ("updated_at", time(summary.updatedAt)),
            ("last_sequence", .number(Int(clamping: summary.lastSequence))),
            ("node_count", .number(summary.nodeCount)),
            (
                "node_counts",
                .object(NodeStatus.allCases.compactMap { status in summary.nodeCounts[status].map { (status.description, .number($0)) } })
            ),
            ("stored_bytes", .number(summary.storedBytes)),
        ])
    }
}
