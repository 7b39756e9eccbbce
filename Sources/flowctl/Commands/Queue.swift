import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl queue set|list`: the queues' limits, shared by every worker on the store.
struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set and list queue limits.", subcommands: [Set.self, List.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a queue's limits (what is not given has no limit).",
            discussion: """
                --limit bounds the queue's running workflows across every worker on the store, \
                --per-worker those of one worker, --rate N/DURATION the starts per period \
                (10/1m, 5/s).
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The queue.", valueName: "name"))
        var name: String

        @Option(name: .long, help: "The most running workflows of the queue across every worker.")
        var limit: Int?

        @Option(name: .long, help: "The most running workflows of the queue in one worker.")
        var perWorker: Int?

        @Option(name: .long, help: ArgumentHelp("The most starts per period.", valueName: "n/duration"))
        var rate: String?

        func validate() throws {
            if let problem = Names.problem(with: name) { throw ValidationError("queue \(TextFormat.quoted(name)) \(problem)") }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if let perWorker, perWorker < 1 { throw ValidationError("--per-worker must be at least 1") }
            if let rate, Self.parseRate(rate) == nil {
                throw ValidationError("--rate \(TextFormat.quoted(rate)) is not N/DURATION, like 10/1m or 5/s")
            }
        }

        /// `N/DURATION`; a bare unit (`5/s`) means one of it.
        static func parseRate(_ text: String) -> (count: Int, period: Duration)? {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let count = Int(parts[0]), count >= 1 else { return nil }
            guard let period = DurationText.parse(String(parts[1])) ?? DurationText.parse("1" + parts[1]),
                period > .zero
            else { return nil }
            return (count, period)
        }

        func run() async throws {
            let store = try global.openStore()
            let config = QueueConfig(limit: limit, perWorker: perWorker, rate: rate.flatMap(Self.parseRate))
            try await FileRuntimeStore(store: store).setQueueConfig(config, for: name)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the queues: limits, queued and claimed workflows.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let store = try global.openStore()
            let records = FileRuntimeStore(store: store)
            var rows = [["QUEUE", "LIMIT", "PER-WORKER", "RATE", "QUEUED", "RUNNING"]]
            var names = try await records.queueNames()
            if !names.contains("default") { names.insert("default", at: 0) }
            for name in names.sorted() {
                let config = try await records.queueConfig(name)
                let entries = try await records.entries(in: name)
                var running = 0
                for entry in entries where try await records.isOwned(entry.key) { running += 1 }
                let rate = config.rateCount.flatMap { count in config.ratePeriodMicros.map { "\(count)/\(Self.period($0))" } }
                rows.append([
                    name, config.limit.map(String.init) ?? "-", config.perWorker.map(String.init) ?? "-", rate ?? "-",
                    String(entries.count - running), String(running),
                ])
            }
            Terminal.out(TextFormat.table(rows) + "\n")
        }

        /// A rate's period in its largest whole unit: `1m`, `90s`, `250ms`.
        static func period(_ micros: Int64) -> String {
            for (unit, size) in [("d", Int64(86_400_000_000)), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)]
            where micros % size == 0 {
                return "\(micros / size)\(unit)"
            }
            return "\(micros)us"
        }
    }
}
