import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl schedule add|list|remove`: schedules whose slots the workers start.
struct Schedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list and remove schedules; workers start their slots.",
        discussion: """
            Each slot of a schedule starts one run of its definition, with the workflow ID \
            NAME-YYYYMMDDTHHMMSSZ (the slot's UTC time), so that a slot starts once however many \
            workers share the store and however often they restart.
            """,
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add (or replace) a schedule of a definition file.",
            discussion: """
                --cron takes five fields (minute hour day-of-month month day-of-week; *, lists, \
                ranges, steps, JAN-DEC, SUN-SAT; when both day fields are restricted either \
                matches) in --tz (an IANA zone, default UTC). A time in a skipped daylight-saving \
                hour runs once when the clock jumps; a repeated hour runs once. --every takes a \
                whole number of seconds (1s, 5m, 1h), counted from 1970-01-01T00:00:00Z. With \
                --overlap skip (the default) a slot is skipped while an earlier slot's run has not \
                ended. After downtime, the latest slot missed within --catch-up runs once.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The schedule's name (the prefix of its workflow IDs).", valueName: "name"))
        var name: String

        @Argument(help: ArgumentHelp("The definition file.", valueName: "file"))
        var file: String

        @Option(name: .long, help: ArgumentHelp("A five-field cron expression.", valueName: "expr"))
        var cron: String?

        @Option(name: .long, help: ArgumentHelp("The time zone of --cron (IANA name).", valueName: "zone"))
        var tz: String?

        @Option(name: .long, help: ArgumentHelp("A fixed interval (whole seconds: 10s, 5m, 1h).", valueName: "duration"))
        var every: String?

        @Option(name: .long, help: ArgumentHelp("skip or allow a slot while an earlier one runs.", valueName: "policy"))
        var overlap = "skip"

        @Option(name: .customLong("catch-up"), help: ArgumentHelp("How old a missed slot may be and still run.", valueName: "duration"))
        var catchUp = "1h"

        @Option(name: .long, help: ArgumentHelp("The queue of the slots' runs.", valueName: "name"))
        var queue = "default"

        @Option(name: .long, help: "The priority of the slots' runs.")
        var priority = 0

        @Option(name: .long, help: ArgumentHelp("The runs' input: the text itself, or @PATH for a file's bytes.", valueName: "text|@path"))
        var input: String?

        func validate() throws {
            if (cron == nil) == (every == nil) { throw ValidationError("give --cron EXPR or --every DURATION") }
            if tz != nil, cron == nil { throw ValidationError("--tz goes with --cron") }
            if let every, DurationText.parse(every) == nil {
                throw ValidationError("--every \(TextFormat.quoted(every)) is not a duration: \(DurationText.expected)")
            }
            if DurationText.parse(catchUp) == nil {
                throw ValidationError("--catch-up \(TextFormat.quoted(catchUp)) is not a duration: \(DurationText.expected)")
            }
            if ScheduleSpec.OverlapPolicy(rawValue: overlap) == nil {
                throw ValidationError("--overlap \(TextFormat.quoted(overlap)) is not skip or allow")
            }
            if let tz, TimeZone(identifier: tz) == nil {
                throw ValidationError("--tz \(TextFormat.quoted(tz)) is not a known time zone (an IANA name like Europe/Berlin)")
            }
            if let problem = Names.problem(with: queue) { throw ValidationError("queue \(TextFormat.quoted(queue)) \(problem)") }
        }

        func run() async throws {
            let timing: ScheduleSpec.Timing
            let spec: ScheduleSpec
            do {
                if let cron {
                    timing = .cron(try CronExpression(cron, timeZone: TimeZone(identifier: tz ?? "UTC")!))
                    spec = try ScheduleSpec(
                        name: name, timing: timing, overlap: ScheduleSpec.OverlapPolicy(rawValue: overlap)!,
                        catchUpWindow: DurationText.parse(catchUp)!)
                } else {
                    spec = try ScheduleSpec(
                        name: name, every: DurationText.parse(every!)!,
                        overlap: ScheduleSpec.OverlapPolicy(rawValue: overlap)!, catchUpWindow: DurationText.parse(catchUp)!)
                }
            } catch {
                throw CLIError(.usage, error.message)
            }
            let definition = try DefinitionParser.parse(file: file)
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
            let store = try global.openStore()
            let tenant = try global.key(spec.workflowID(for: Date())).tenant
            try await FileScheduleStore(store: store).save(
                ScheduleDefinition(
                    spec: spec, type: DefinitionType.name, version: DefinitionType.version, tenant: tenant,
                    input: inputBytes, definition: definition.source, queue: queue, priority: priority))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules and their next slots.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let store = try global.openStore()
            var rows = [["NAME", "WHEN", "OVERLAP", "CATCH-UP", "QUEUE", "NEXT"]]
            for (name, loaded) in try await FileScheduleStore(store: store).all() {
                switch loaded {
                case .success(let schedule):
                    let when: String
                    switch schedule.spec.timing {
                    case .cron(let cron): when = "cron \(cron.source) \(cron.timeZone.identifier)"
                    case .interval(let seconds): when = "every \(DurationText.format(.seconds(seconds)))"
                    }
                    let next = schedule.spec.next(after: Date()).map { schedule.spec.workflowID(for: $0) } ?? "-"
                    rows.append([
                        name, when, schedule.spec.overlap.rawValue, DurationText.format(schedule.spec.catchUpWindow),
                        schedule.queue, next,
                    ])
                case .failure(let error):
                    rows.append([name, "unreadable: \(error.message)", "-", "-", "-", "-"])
                }
            }
            Terminal.out(TextFormat.table(rows) + "\n")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a schedule (the runs it started stay); exit 3 when there is none.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The schedule's name.", valueName: "name"))
        var name: String

        func run() async throws {
            let store = try global.openStore()
            guard try await FileScheduleStore(store: store).remove(name) else {
                throw CLIError(.storeOrData, "schedule \(TextFormat.quoted(name)) not found")
            }
        }
    }
}
