import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The quick, side-by-side version of every benchmark: what `flowctl bench` runs. Every figure
/// comes from this one process, so ratios are taken under the same load.
public enum QuickBench {
    /// The parts that can be run.
    public enum Section: String, Sendable, CaseIterable {
        case memory, executor, serialization, records, snapshot, persistence, recovery, floors
    }

    /// What to measure, and how big.
    public struct Configuration: Sendable {
        /// Nodes of the wide and layered DAGs and of the serialized states.
        public var nodes = 100_000
        /// Repetitions of each serialization and snapshot measurement (medians are kept).
        public var iterations = 3
        /// Nodes of the state with 1 MiB outputs.
        public var largeOutputNodes = 8
        /// Length of the chain in the persistence table.
        public var chainLength = 4_000
        /// Length of the chain for the per-level snapshot strategy, which rewrites the whole
        /// state at every level (so its cost grows with the square of the length: 4,000 levels
        /// with fsync take about half a minute here).
        public var levelChainLength = 200
        /// The executor's concurrency bound in the executor and persistence tables.
        public var maxConcurrency = 64
        /// Journal lengths for the recovery curve.
        public var recoveryRecords = [10_000, 100_000, 1_000_000]
        /// Which parts run.
        public var sections = Set(Section.allCases)
        /// The persistence strategies measured, as "node/fsync", "level/buffered", ... (all when nil).
        public var strategies: Set<String>?
        /// A state of the user's own (`flowctl bench --from ID`): measured by every serialization
        /// strategy instead of the synthetic ones.
        public var userState: WorkflowState?
        /// Bytes of each node's output in the synthetic serialization state.
        public var outputBytes = 16
        /// Where the stores measured are written.
        public var directory: String

        public init(directory: String) { self.directory = directory }
    }

    /// Runs the sections asked for, in a fixed order: memory first, while the process is fresh,
    /// then the store measurements, and the allocation-heavy in-memory codecs last (a heap they
    /// leave grown and fragmented slows whatever runs after them). Tells `progress` what it is
    /// doing.
    public static func run(
        _ configuration: Configuration, progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> BenchReport {
        var report = BenchReport()
        let config = configuration
        report.context = [
            ("date", ISO8601DateFormatter().string(from: Date())),
            ("machine", "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(hostMemory())"),
            ("load before", loadAverage()),
            ("build", isDebugBuild ? "DEBUG (figures are not representative: use -c release)" : "release"),
            ("nodes", "\(config.nodes)"),
        ]
        var figures = Figures()
        let want = config.sections
        if want.contains(.memory) {
            progress("memory: loading a \(config.nodes)-node state")
            let resident = try await DurabilityBench.residentWithState(nodes: config.nodes, directory: config.directory + "/memory")
            var table = ReportTable(
                id: "memory", title: "Memory", labelHeader: "what",
                columns: [.init("resident_mib", "resident MiB", decimals: 1)])
            table.add("process with a \(config.nodes)-node state loaded", [Double(resident) / 1_048_576])
            table.notes = ["An upper bound: the whole process (runtime, freed buffers) after saving and loading the state."]
            report.tables.append(table)
            figures.residentMiB = Double(resident) / 1_048_576
        }
        if want.contains(.snapshot) {
            progress("snapshot: FlatBuffers store vs JSON store, save and load with fsync")
            report.tables.append(try await snapshot(config, &figures))
        }
        if want.contains(.executor) {
            progress("executor: no-op nodes, no persistence")
            report.tables.append(try await executor(config, &figures))
        }
        if want.contains(.persistence) {
            progress("persistence: strategies x durability")
            report.tables.append(try await persistence(config, progress: progress, &figures))
        }
        if want.contains(.recovery) {
            var table = ReportTable(
                id: "recovery", title: "Recovery: opening a workflow against its journal length", labelHeader: "journal",
                columns: [
                    .init("records", "records"), .init("journal_mib", "journal MiB", decimals: 1),
                    .init("open_ms", "open ms", decimals: 1), .init("records_per_s", "records/s"),
                    .init("peak_mib_above", "peak MiB above", decimals: 1),
                ])
            for records in config.recoveryRecords {
                progress("recovery: writing and opening a journal of \(records) records")
                let result = try await DurabilityBench.recovery(records: records, directory: "\(config.directory)/recovery-\(records)")
                table.add(
                    "\(ReportTable.Column.grouped(Int64(records))) records",
                    [
                        Double(records), Double(result.journalBytes) / 1_048_576, result.seconds * 1000,
                        Double(records) / result.seconds, result.peakBytesAbove.map { Double($0) / 1_048_576 },
                    ])
                if records == 1_000_000 {
                    figures.recovery1M = result.seconds
                    figures.recovery1MPeakMiB = result.peakBytesAbove.map { Double($0) / 1_048_576 }
                }
            }
            table.notes = [
                "Open = read the snapshot and the journal, check every frame's CRC32C, verify and replay every record.",
                "peak MiB above: the process's peak resident size during a first open (reset just before it) minus its size before; the journal is read in 4 MiB pieces, so this stays flat while the journal grows. The 1,000-node state itself is under 1 MiB.",
            ]
            report.tables.append(table)
        }
        if want.contains(.serialization) {
            if let user = config.userState {
                progress("serialization: workflow \(user.tenant)/\(user.id), \(user.nodes.count) nodes")
                let average = user.nodes.reduce(0) { $0 + ($1.output?.count ?? 0) } / max(1, user.nodes.count)
                let results = try SerializationBench.measure(user, outputBytes: average, iterations: config.iterations)
                report.tables.append(
                    serializationTable(
                        results, id: "serialization",
                        title: "Serialization strategies: workflow \(user.tenant)/\(user.id) as stored (\(user.nodes.count) nodes, outputs \(average) bytes on average)"))
            } else {
                progress("serialization: \(config.nodes) nodes, \(config.outputBytes)-byte outputs")
                let small = Workloads.finishedState(nodes: config.nodes, outputBytes: config.outputBytes)
                let results = try SerializationBench.measure(small, outputBytes: config.outputBytes, iterations: config.iterations)
                report.tables.append(
                    serializationTable(
                        results, id: "serialization",
                        title: "Serialization strategies: \(config.nodes) nodes, \(config.outputBytes)-byte outputs (in memory, one thread)"))
            }
            if config.largeOutputNodes > 0 && config.userState == nil {
                progress("serialization: \(config.largeOutputNodes) nodes, 1 MiB outputs")
                let large = Workloads.finishedState(nodes: config.largeOutputNodes, outputBytes: 1 << 20)
                let results = try SerializationBench.measure(large, outputBytes: 1 << 20, iterations: config.iterations)
                report.tables.append(
                    serializationTable(results, id: "serialization_1mib", title: "Serialization strategies: \(config.largeOutputNodes) nodes, 1 MiB log-text outputs"))
            }
        }
        if want.contains(.records) {
            progress("records: journal-sized records, zstd with and without a dictionary")
            report.tables.append(try recordsTable())
        }
        if want.contains(.floors) {
            progress("floors: the same work done by the bare system calls")
            report.tables.append(try await floors(config, figures))
        }
        report.context.append(("load after", loadAverage()))
        report.targets = figures.targets(nodes: config.nodes, chainLength: config.chainLength)
        return report
    }

    // MARK: Sections

    private static func executor(_ config: Configuration, _ figures: inout Figures) async throws -> ReportTable {
        var table = ReportTable(
            id: "executor", title: "Executor overhead: no-op nodes, no persistence", labelHeader: "DAG, scheduling",
            columns: [.init("nodes", "nodes"), .init("ms", "ms", decimals: 1), .init("nodes_per_s", "nodes/s"), .init("x_target", "x target", decimals: 2, suffix: "x")])
        let width = max(1, config.nodes / 100)
        for (shape, dag) in [("wide \(config.nodes)", Workloads.wide(config.nodes)), ("layered 100x\(width)", Workloads.layered(levels: 100, width: width))] {
            for scheduling in [Scheduling.levels, .dependencies] {
                let options = ExecutionOptions(maxConcurrency: config.maxConcurrency, scheduling: scheduling, persistence: .end)
                // Best of two: the first run also warms the allocator.
                var best: RunMeasurement?
                for _ in 0..<2 {
                    let run = try await ExecutorBench.run(dag, options: options)
                    if best.map({ run.duration < $0.duration }) ?? true { best = run }
                }
                guard let run = best else { continue }
                let label = "\(shape), \(scheduling == .levels ? "levels" : "dependencies")"
                table.add(label, [Double(run.nodes), run.duration.seconds * 1000, run.nodesPerSecond, run.nodesPerSecond / 250_000])
                if shape.hasPrefix("wide") {
                    figures.executorWide.append((label, run.nodesPerSecond))
                } else {
                    figures.executorLayered.append((label, run.nodesPerSecond))
                }
            }
        }
        table.notes = ["Best of two runs each; in-memory store, persistence at the end only; concurrency bound \(config.maxConcurrency)."]
        return table
    }

    private static func serializationTable(_ results: [SerializationBench.Result], id: String, title: String) -> ReportTable {
        var table = ReportTable(
            id: id, title: title, labelHeader: "strategy",
            columns: [
                .init("encode_ms", "encode ms", decimals: 1), .init("decode_ms", "decode ms", decimals: 1),
                .init("bytes", "bytes"), .init("encode_x_json", "encode vs JSON", decimals: 1, suffix: "x"),
                .init("decode_x_json", "decode vs JSON", decimals: 1, suffix: "x"),
                .init("smaller_x_json", "smaller than JSON", decimals: 1, suffix: "x"),
            ])
        guard let json = results.first(where: { $0.codec == "JSON" && $0.level == nil }) else { return table }
        for result in results {
            table.add(
                result.strategy,
                [
                    result.encodeSeconds * 1000, result.decodeSeconds * 1000, Double(result.bytes),
                    json.encodeSeconds / result.encodeSeconds, json.decodeSeconds / result.decodeSeconds,
                    Double(json.bytes) / Double(result.bytes),
                ])
        }
        table.notes = [
            "encode = encode (+ compress); decode = (decompress +) verify and decode; medians; ratios against raw JSON (higher is better).",
            "zstd frames carry their content checksum, as snapshot files do; FlatBuffers decoding runs the full Verifier.",
        ]
        return table
    }

    private static func recordsTable() throws -> ReportTable {
        let results = try RecordCompressionBench.measure()
        var table = ReportTable(
            id: "records", title: "Journal-sized records compressed one by one (20,000 records, start and completion events)",
            labelHeader: "strategy",
            columns: [
                .init("bytes_per_record", "bytes/record", decimals: 1), .init("x_raw", "smaller than raw", decimals: 2, suffix: "x"),
                .init("compress_us", "compress us", decimals: 2), .init("decompress_us", "decompress us", decimals: 2),
                .init("dictionary_bytes", "dictionary bytes"),
            ])
        let raw = results.first?.bytesPerRecord ?? 1
        for result in results {
            table.add(
                result.strategy,
                [
                    result.bytesPerRecord, raw / result.bytesPerRecord,
                    result.strategy == "raw frame" ? nil : result.compressMicros,
                    result.strategy == "raw frame" || result.strategy.hasPrefix("whole") ? nil : result.decompressMicros,
                    Double(result.dictionaryBytes),
                ])
        }
        table.notes = [
            "The dictionary is trained (ZDICT_trainFromBuffer) on 10,000 records of another run; each record is then its own frame.",
            "'whole journal' compresses all records as one stream: the bound no per-record scheme reaches.",
        ]
        return table
    }

    private static func snapshot(_ config: Configuration, _ figures: inout Figures) async throws -> ReportTable {
        let state = SnapshotBench.state(nodes: config.nodes)
        let iterations = max(5, config.iterations)
        let flat = try await SnapshotBench.measure(
            "FlatBuffers+zstd-1 store", store: FlatBuffersStore(directory: config.directory + "/fb"), state: state, iterations: iterations)
        let json = try await SnapshotBench.measure(
            "JSON file store", store: JSONFileStore(directory: config.directory + "/json"), state: state,
            iterations: max(3, config.iterations))
        var table = ReportTable(
            id: "snapshot", title: "Snapshot through the stores: \(config.nodes) nodes, save with fsync and rename, load with verification",
            labelHeader: "store",
            columns: [
                .init("save_ms", "save ms", decimals: 1), .init("load_ms", "load ms", decimals: 1),
                .init("save_cpu_ms", "save cpu ms", decimals: 1), .init("load_cpu_ms", "load cpu ms", decimals: 1),
                .init("bytes", "bytes"),
                .init("save_x_json", "save vs JSON", decimals: 1, suffix: "x"), .init("load_x_json", "load vs JSON", decimals: 1, suffix: "x"),
                .init("smaller_x_json", "smaller than JSON", decimals: 1, suffix: "x"),
            ])
        for result in [flat, json] {
            table.add(
                result.store,
                [
                    result.saveSeconds * 1000, result.loadSeconds * 1000, result.saveCPUSeconds * 1000,
                    result.loadCPUSeconds * 1000, Double(result.bytes),
                    json.saveSeconds / result.saveSeconds, json.loadSeconds / result.loadSeconds,
                    Double(json.bytes) / Double(result.bytes),
                ])
        }
        table.notes = [
            "Medians of \(iterations) (FlatBuffers) and \(max(3, config.iterations)) (JSON) rounds; the FlatBuffers store uses every core for large snapshots.",
            "cpu ms: CPU time of the whole process (all threads) during the call; on a busy machine wall time exceeds it, on an idle one it bounds the work.",
        ]
        figures.snapshot = (flat, json)
        return table
    }

    private static func persistence(
        _ config: Configuration, progress: @Sendable (String) -> Void, _ figures: inout Figures
    ) async throws -> ReportTable {
        var table = ReportTable(
            id: "persistence",
            title: "Persistence strategies: FlatBuffers store, no-op nodes, dependency-driven, concurrency bound \(config.maxConcurrency)",
            labelHeader: "DAG, strategy/durability",
            columns: [
                .init("nodes", "nodes"), .init("seconds", "seconds", decimals: 2),
                .init("completions_per_s", "completions/s"), .init("store_writes", "store writes"),
            ])
        let shapes: [(PersistenceBench.Shape, Int)] = [(.wide, config.nodes), (.chain, config.chainLength)]
        for (shape, nodes) in shapes {
            for persistence in PersistenceStrategy.allCases {
                for durability in Durability.allCases {
                    if let only = config.strategies, !only.contains("\(persistence.rawValue)/\(durability.rawValue)") { continue }
                    let count = shape == .chain && persistence == .level ? config.levelChainLength : nodes
                    progress("persistence: \(shape.rawValue) \(count), \(persistence.rawValue)/\(durability.rawValue)")
                    let result = try await PersistenceBench.run(
                        shape, nodes: count, persistence: persistence, durability: durability,
                        directory: "\(config.directory)/persist-\(shape.rawValue)-\(persistence.rawValue)-\(durability.rawValue)",
                        maxConcurrency: config.maxConcurrency)
                    table.add(
                        "\(shape.rawValue) \(count), \(result.strategy)",
                        [Double(count), result.seconds, result.nodesPerSecond, Double(result.storeWrites)])
                    figures.persistence.append(result)
                }
            }
            // The SQLite peer: a row per node, each change an UPDATE, the same group commit.
            for durability in Durability.allCases {
                if let only = config.strategies, !only.contains("sqlite/\(durability.rawValue)") { continue }
                progress("persistence: \(shape.rawValue) \(nodes), sqlite/\(durability.rawValue)")
                let result = try await PersistenceBench.run(
                    shape, nodes: nodes, persistence: .node, durability: durability,
                    directory: "\(config.directory)/persist-\(shape.rawValue)-sqlite-\(durability.rawValue)",
                    maxConcurrency: config.maxConcurrency, sqlite: true)
                table.add(
                    "\(shape.rawValue) \(nodes), sqlite/\(durability.rawValue)",
                    [Double(nodes), result.seconds, result.nodesPerSecond, Double(result.storeWrites)])
                figures.persistence.append(result)
            }
        }
        table.notes = [
            "end: one snapshot when the run ends; level: a whole snapshot after each level; node: every status change journaled (group commit).",
            "A chain has one node per level, so 'level' there rewrites the whole state once per node.",
            "sqlite: a row per node in SQLite (WAL; fsync = synchronous=FULL, buffered = NORMAL), each change an UPDATE, one transaction per group commit.",
        ]
        return table
    }

    /// Each remaining gap of issue 16 as a ratio to a floor measured here and now: what the
    /// operation would cost with nothing but its unavoidable system calls and library work.
    private static func floors(_ config: Configuration, _ figures: Figures) async throws -> ReportTable {
        var table = ReportTable(
            id: "floors", title: "Gaps to the floors (the same work by bare system calls, this run)", labelHeader: "what",
            columns: [
                .init("measured_ms", "measured ms", decimals: 1), .init("floor_ms", "floor ms", decimals: 1),
                .init("x_floor", "x floor", decimals: 2, suffix: "x"), .init("goal_x", "goal", decimals: 1, suffix: "x"),
            ])
        let floor = try await Floors.measure(
            nodes: config.nodes, chainLength: config.chainLength, maxConcurrency: config.maxConcurrency,
            directory: config.directory + "/floors", iterations: max(5, config.iterations))
        func add(_ label: String, _ measured: Double?, _ floorSeconds: Double, goal: Double) {
            guard let measured else {
                table.add(label, [nil, floorSeconds * 1000, nil, goal])
                return
            }
            table.add(label, [measured * 1000, floorSeconds * 1000, measured / floorSeconds, goal])
        }
        add("snapshot save, \(config.nodes) nodes (floor: zstd-1 on every core, write, fsync)", figures.snapshot?.flat.saveSeconds, floor.save, goal: 1.5)
        add("snapshot load, \(config.nodes) nodes (floor: read, decompress)", figures.snapshot?.flat.loadSeconds, floor.load, goal: 1.5)
        let chain = figures.persistence.first { $0.store == "journal" && $0.shape == .chain && $0.persistence == .node && $0.durability == .fsync }
        add("\(config.chainLength)-level chain, fsync (floor: \(config.chainLength) appends + fdatasync)", chain?.seconds, floor.chain, goal: 1.2)
        // Executor: nodes/s against child tasks/s, shown as time for the same count.
        let wide = figures.executorWide.max { $0.1 < $1.1 }.map { Double(config.nodes) / $0.1 }
        add("executor, \(config.nodes) no-op nodes (floor: task group, \(config.maxConcurrency) at a time)", wide, floor.executor, goal: 1 / 0.6)
        table.notes = [
            "x floor = measured / floor (lower is better); goal: issue 16's bound. A missing measured figure: its section did not run.",
            "Floors: \(floor.snapshotBytes) raw FlatBuffer bytes -> \(floor.compressedBytes) compressed; executor floor \(ReportTable.Column.grouped(Int64(Double(config.nodes) / floor.executor))) child tasks/s.",
        ]
        return table
    }

    // MARK: Targets

    /// The figures the targets are checked against.
    private struct Figures {
        var residentMiB: Double?
        var executorWide: [(String, Double)] = []
        var executorLayered: [(String, Double)] = []
        var snapshot: (flat: SnapshotBench.Result, json: SnapshotBench.Result)?
        var persistence: [PersistenceBench.Result] = []
        var recovery1M: Double?
        var recovery1MPeakMiB: Double?

        func targets(nodes: Int, chainLength: Int) -> [TargetCheck] {
            var checks: [TargetCheck] = []
            let fullSize = nodes == 100_000
            let sizeNote = fullSize ? "" : " (measured at \(nodes) nodes, target is for 100,000)"
            if let (flat, json) = snapshot {
                let save = flat.saveSeconds * 1000
                let load = flat.loadSeconds * 1000
                checks.append(.init(
                    name: "snapshot save, 100k nodes", requirement: "<= 30 ms", figure: String(format: "%.1f ms", save) + sizeNote,
                    value: save, met: fullSize ? save <= 30 : nil))
                checks.append(.init(
                    name: "snapshot load, 100k nodes", requirement: "<= 15 ms", figure: String(format: "%.1f ms", load) + sizeNote,
                    value: load, met: fullSize ? load <= 15 : nil))
                let saveRatio = json.saveSeconds / flat.saveSeconds
                let loadRatio = json.loadSeconds / flat.loadSeconds
                checks.append(.init(
                    name: "snapshot save vs JSON", requirement: ">= 10x faster",
                    figure: String(format: "%.1fx", saveRatio) + sizeNote, value: saveRatio, met: fullSize ? saveRatio >= 10 : nil))
                checks.append(.init(
                    name: "snapshot load vs JSON", requirement: ">= 10x faster",
                    figure: String(format: "%.1fx", loadRatio) + sizeNote, value: loadRatio, met: fullSize ? loadRatio >= 10 : nil))
                let smaller = Double(json.bytes) / Double(flat.bytes)
                checks.append(.init(
                    name: "snapshot size vs JSON", requirement: ">= 3x smaller",
                    figure: String(format: "%.1fx smaller", smaller) + sizeNote, value: smaller, met: fullSize ? smaller >= 3 : nil))
            }
            for (name, runs) in [("executor wide", executorWide), ("executor layered 100 levels", executorLayered)] {
                guard let worst = runs.min(by: { $0.1 < $1.1 }) else { continue }
                let all = runs.map { "\($0.0.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""): \(ReportTable.Column.grouped(Int64($0.1)))" }
                checks.append(.init(
                    name: name, requirement: ">= 250,000 nodes/s",
                    figure: all.joined(separator: ", ") + " nodes/s" + sizeNote, value: worst.1,
                    met: fullSize ? worst.1 >= 250_000 : nil))
            }
            if let wide = persistence.first(where: { $0.store == "journal" && $0.shape == .wide && $0.persistence == .node && $0.durability == .fsync }) {
                checks.append(.init(
                    name: "journaled + fsync, wide", requirement: ">= 50,000 completions/s",
                    figure: ReportTable.Column.grouped(Int64(wide.nodesPerSecond)) + " completions/s" + sizeNote,
                    value: wide.nodesPerSecond, met: fullSize ? wide.nodesPerSecond >= 50_000 : nil))
            }
            if let chain = persistence.first(where: { $0.store == "journal" && $0.shape == .chain && $0.persistence == .node && $0.durability == .fsync }) {
                checks.append(.init(
                    name: "4,000-level chain, fsync per level", requirement: "<= 2 s",
                    figure: String(format: "%.2f s (journaled, one group commit per level)", chain.seconds)
                        + (chain.nodes == 4_000 ? "" : " at \(chain.nodes) levels"),
                    value: chain.seconds, met: chain.nodes == 4_000 ? chain.seconds <= 2 : nil))
            }
            if let recovery1M {
                checks.append(.init(
                    name: "recovery, 1M journal records", requirement: "<= 1.5 s", figure: String(format: "%.2f s", recovery1M),
                    value: recovery1M, met: recovery1M <= 1.5))
                checks.append(.init(
                    name: "open 1M records (issue 16)", requirement: "<= 0.5 s", figure: String(format: "%.2f s", recovery1M),
                    value: recovery1M, met: recovery1M <= 0.5))
            }
            if let recovery1MPeakMiB {
                let megabytes = recovery1MPeakMiB * 1_048_576 / 1_000_000
                checks.append(.init(
                    name: "open 1M records, memory (issue 16)", requirement: "<= 64 MB above the state",
                    figure: String(format: "%.1f MB peak above the process before the open", megabytes), value: megabytes,
                    met: megabytes <= 64))
            }
            if let residentMiB {
                let megabytes = residentMiB * 1_048_576 / 1_000_000
                checks.append(.init(
                    name: "memory, 100k-node state", requirement: "<= 100 MB resident",
                    figure: String(format: "%.1f MB (whole process)", megabytes) + sizeNote, value: megabytes,
                    met: fullSize ? megabytes <= 100 : nil))
            }
            return checks
        }
    }

    // MARK: Context

    #if DEBUG
    static let isDebugBuild = true
    #else
    static let isDebugBuild = false
    #endif

    /// The 1, 5 and 15 minute load averages.
    public static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    private static func hostMemory() -> String {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return "memory unknown" }
        return String(format: "%.0f GiB", Double(pages) * Double(size) / 1_073_741_824)
    }
}
