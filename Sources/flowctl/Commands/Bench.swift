import ArgumentParser
import FlowBenchKit
import FlowOrchestrator
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare serialization and persistence strategies side by side.",
        discussion: """
            Measures, in this one process: memory with a large state loaded; executor overhead \
            (wide and layered DAGs, level-synchronous and dependency-driven); Foundation JSON, \
            binary property lists, protobuf and FlatBuffers, raw and zstd at levels 1, 3 and 9 \
            (on a stored workflow's own state with --from ID, or a synthetic one of --nodes and \
            --output-bytes); journal-sized \
            records with and without a trained zstd dictionary; snapshots through the FlatBuffers \
            and JSON stores; persistence at the end, per level and per node with fsync and \
            buffered, beside SQLite with a row per node; recovery time against journal length; and \
            each remaining gap as a ratio to a floor measured in the same run. Then checks the figures against the \
            project's targets. Progress goes to stderr, the report to stdout. Build with \
            `-c release`: debug figures mean nothing.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Nodes in the wide and layered DAGs and in the serialized state.")
    var nodes = 100_000

    @Option(help: "Bytes of each node's output in the synthetic serialized state.")
    var outputBytes = 16

    @Option(
        help: ArgumentHelp(
            "Measure every serialization strategy on this stored workflow's real state (from --store) instead of a synthetic one.",
            valueName: "id"))
    var from: String?

    @Option(help: "Output: table (for people), json or csv (one figure per line).")
    var format: BenchReport.Format = .table

    @Option(help: "Repetitions of each serialization and snapshot measurement; medians are reported.")
    var iterations = 3

    @Option(
        help: ArgumentHelp(
            "Comma-separated parts to run (default: all).",
            valueName: QuickBench.Section.allCases.map(\.rawValue).joined(separator: ",")))
    var only: String?

    @Option(help: "Nodes of the state with 1 MiB outputs (0 leaves it out).")
    var largeOutputNodes = 8

    @Option(help: "Length of the chain in the persistence table.")
    var chain = 4_000

    @Option(help: "Length of the chain for per-level snapshots (each level rewrites the whole state).")
    var levelChain = 200

    @Option(
        help: ArgumentHelp(
            "Comma-separated persistence strategies to measure (default: all eight).",
            valueName: "node/fsync,level/buffered,sqlite/fsync,..."))
    var strategies: String?

    @Option(help: "The executor's concurrency bound in the executor and persistence parts.")
    var maxConcurrency = 64

    @Option(help: "Comma-separated journal lengths for the recovery curve.")
    var recoveryRecords = "10000,100000,1000000"

    @Option(help: "Where to write the stores measured (a temporary directory by default).")
    var directory: String?

    @Option(help: ArgumentHelp("Also write the report as CSV to this file (for scripts/plot_benchmarks.py).", valueName: "file"))
    var csv: String?

    @Flag(help: "Measure only the FlatBuffers snapshot store, 30 rounds (for profiling).")
    var snapshotOnly = false

    @Option(help: "zstd level of the FlatBuffers store with --snapshot-only.")
    var level: Int32 = 1

    func validate() throws {
        guard nodes >= 100 else { throw ValidationError("--nodes must be at least 100") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard maxConcurrency >= 1 else { throw ValidationError("--max-concurrency must be at least 1") }
        guard chain >= 1, levelChain >= 1 else { throw ValidationError("--chain and --level-chain must be positive") }
        guard largeOutputNodes >= 0 else { throw ValidationError("--large-output-nodes must not be negative") }
        guard outputBytes >= 0 else { throw ValidationError("--output-bytes must not be negative") }
        _ = try sections()
        _ = try recoveryLengths()
        _ = try strategySet()
    }

    func run() async throws {
        let root = directory ?? NSTemporaryDirectory() + "flowctl-bench-\(getpid())"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        if snapshotOnly {
            let flat = try await SnapshotBench.measure(
                "FlatBuffers+zstd", store: FlatBuffersStore(directory: root + "/fb", options: .init(compressionLevel: level)),
                state: SnapshotBench.state(nodes: nodes), iterations: 30)
            print(
                String(
                    format: "save %.1f ms (cpu %.1f ms), load %.1f ms (cpu %.1f ms), %d bytes", flat.saveSeconds * 1000,
                    flat.saveCPUSeconds * 1000, flat.loadSeconds * 1000, flat.loadCPUSeconds * 1000, flat.bytes))
            return
        }
        var configuration = QuickBench.Configuration(directory: root)
        configuration.nodes = nodes
        configuration.iterations = iterations
        configuration.largeOutputNodes = largeOutputNodes
        configuration.chainLength = chain
        configuration.levelChainLength = levelChain
        configuration.recoveryRecords = try recoveryLengths()
        configuration.sections = try sections()
        configuration.strategies = try strategySet()
        configuration.maxConcurrency = maxConcurrency
        configuration.outputBytes = outputBytes
        if let from {
            let store = try global.openStore()
            configuration.userState = try await store.load(try global.key(from))
        }
        let clock = ContinuousClock()
        let started = clock.now
        let report = try await QuickBench.run(configuration) { message in
            let elapsed = (clock.now - started).seconds
            FileHandle.standardError.write(Data(String(format: "bench: %5.1f s  %@\n", elapsed, message).utf8))
        }
        if let csv {
            do {
                try report.render(.csv).write(toFile: csv, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError(.storeOrData, "cannot write \(csv): \(error.localizedDescription)")
            }
        }
        print(report.render(format), terminator: "")
    }

    private func sections() throws -> Set<QuickBench.Section> {
        guard let only else { return Set(QuickBench.Section.allCases) }
        var sections = Set<QuickBench.Section>()
        for name in only.split(separator: ",") {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let section = QuickBench.Section(rawValue: name) else {
                throw ValidationError(
                    "unknown part \"\(name)\" in --only (expected \(QuickBench.Section.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            sections.insert(section)
        }
        return sections
    }

    private func strategySet() throws -> Set<String>? {
        guard let strategies else { return nil }
        let known = (PersistenceStrategy.allCases.map(\.rawValue) + ["sqlite"]).flatMap { persistence in
            Durability.allCases.map { "\(persistence)/\($0.rawValue)" }
        }
        var chosen = Set<String>()
        for name in strategies.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard known.contains(name) else {
                throw ValidationError("unknown strategy \"\(name)\" in --strategies (expected \(known.joined(separator: ", ")))")
            }
            chosen.insert(name)
        }
        return chosen
    }

    private func recoveryLengths() throws -> [Int] {
        try recoveryRecords.split(separator: ",").map { text in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0 else {
                throw ValidationError("--recovery-records takes positive whole numbers, comma-separated, not \"\(text)\"")
            }
            return value
        }
    }
}

extension BenchReport.Format: ExpressibleByArgument {}
