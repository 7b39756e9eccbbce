import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl submit FILE`: queues a run of a definition file for the workers.
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue a run of a definition file; a `flowctl worker` runs it.",
        discussion: """
            Prints the workflow ID and exits at once; the run is durable by then. Submitting an \
            ID that exists with the same definition and input prints the ID and queues nothing; \
            with a changed one it is refused (exit 3). A larger --priority runs first.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The definition file.", valueName: "file"))
    var file: String

    @Option(name: .long, help: ArgumentHelp("The workflow ID (default: the file's id).", valueName: "id"))
    var id: String?

    @Option(name: .long, help: ArgumentHelp("The workflow's input: the text itself, or @PATH for a file's bytes.", valueName: "text|@path"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("The queue.", valueName: "name"))
    var queue = "default"

    @Option(name: .long, help: "A larger priority is claimed first.")
    var priority = 0

    @Option(name: .customLong("in"), help: ArgumentHelp("Start no sooner than this long from now (10s, 5m, 1h).", valueName: "duration"))
    var delay: String?

    @Option(name: .long, help: ArgumentHelp("Start no sooner than this RFC 3339 time (2026-12-24T08:00:00Z).", valueName: "time"))
    var at: String?

    func validate() throws {
        if delay != nil, at != nil { throw ValidationError("give --in or --at, not both") }
        if let delay, DurationText.parse(delay) == nil {
            throw ValidationError("--in \(TextFormat.quoted(delay)) is not a duration: \(DurationText.expected)")
        }
        if let at, Self.parseTime(at) == nil {
            throw ValidationError("--at \(TextFormat.quoted(at)) is not an RFC 3339 time with its offset, like 2026-12-24T08:00:00Z")
        }
        if let problem = Names.problem(with: queue) { throw ValidationError("queue \(TextFormat.quoted(queue)) \(problem)") }
    }

    /// An RFC 3339 time with its offset, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    func run() async throws {
        let definition = try DefinitionParser.parse(file: file)
        let workflowID = id ?? definition.id
        let key = try global.key(workflowID)
        var inputBytes = Data()
        if let input {
            if input.hasPrefix("@") {
                do {
                    inputBytes = try FileBytes.read(String(input.dropFirst()))
                } catch {
                    throw CLIError(.usage, "--input \(input): \(error.message)")
                }
            } else {
                inputBytes = Data(input.utf8)
            }
        }
        var notBefore: Date?
        if let delay, let duration = DurationText.parse(delay) { notBefore = Date().addingTimeInterval(duration.secondsValue) }
        if let at { notBefore = Self.parseTime(at) }
        let store = try global.openStore()
        let runtime = try await DefinitionType.runtime(store: store)
        do {
            _ = try await runtime.start(
                DefinitionType.name, id: key.id, tenant: key.tenant, input: inputBytes, definition: definition.source,
                queue: queue, priority: priority, notBefore: notBefore)
        } catch let error as FlowError where error.code == .alreadyExists {
            throw CLIError(.storeOrData, error.message + "; submit it under another --id, or delete it first")
        }
        Terminal.out(key.id + "\n")
    }
}
