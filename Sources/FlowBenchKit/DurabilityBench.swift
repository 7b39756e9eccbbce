import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Durable execution and recovery through the real FlatBuffers store.
public enum DurabilityBench {
    /// Runs `dag` as a new workflow in a FlatBuffers store at `directory` with every status
    /// change journaled under `durability`.
    public static func run(
        _ dag: DAG, directory: String, durability: Durability, scheduling: Scheduling = .dependencies,
        persistence: PersistenceStrategy = .node
    ) async throws -> RunMeasurement {
        let store = try FlatBuffersStore(directory: directory)
        let options = ExecutionOptions(scheduling: scheduling, persistence: persistence, durability: durability)
        return try await ExecutorBench.run(dag, store: store, id: "durable", options: options)
    }

    /// What opening a workflow with a long journal cost.
    public struct Recovery: Sendable {
        /// Records in the journal past the snapshot.
        public var records: Int
        /// Bytes of the journal file.
        public var journalBytes: Int
        /// Seconds to open the workflow with a fresh store (read the snapshot and the journal,
        /// verify every record, replay them).
        public var seconds: Double
        /// How far the process's peak resident memory rose above what it was just before the
        /// open (bytes): the journal reading's memory plus the opened state's own. Nil where the
        /// kernel cannot reset the peak (`/proc/self/clear_refs`).
        public var peakBytesAbove: Int?
    }

    /// Writes a workflow whose journal holds `records` records past its snapshot (a 1,000-node
    /// workflow whose nodes start and complete again and again), then times opening it with a
    /// fresh store.
    public static func recovery(records: Int, directory: String) async throws -> Recovery {
        let journalBytes = try await writeJournal(records: records, directory: directory)
        // The memory figure first, with the peak reset just before; the time from a second open.
        let resetPeak = resetPeakResident()
        let before = residentSetBytes()
        _ = try await openJournal(records: records, directory: directory)
        let peak = resetPeak ? peakResidentBytes() : nil
        let seconds = try await openJournal(records: records, directory: directory)
        return Recovery(
            records: records, journalBytes: journalBytes, seconds: seconds, peakBytesAbove: peak.map { max(0, $0 - before) })
    }

    /// Resets the process's peak resident size to its current one (Linux 4.0 and later).
    static func resetPeakResident() -> Bool {
        (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
    }

    /// The process's peak resident size since it started or the last reset (`VmHWM`).
    static func peakResidentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// The workflow ``writeJournal(records:directory:)`` writes.
    static let recoveryKey = try! WorkflowKey(id: "recovery")  // a valid ID by construction

    /// Writes the workflow ``recovery(records:directory:)`` opens; returns the journal's size.
    public static func writeJournal(records: Int, directory: String) async throws -> Int {
        let nodeCount = 1_000
        let names = (0..<nodeCount).map { "node-\($0)" }
        let key = recoveryKey
        let store = try FlatBuffersStore(
            directory: directory, options: .init(compactAfterRecords: Int.max, compactAfterBytes: Int.max))
        let writer = try await store.acquireWriter(key)
        let state = WorkflowState(id: key.id, tenant: key.tenant, fingerprint: "fp", nodeNames: names)
        try await writer.save(state, durability: .buffered)
        var batch: [WorkflowEvent] = []
        batch.reserveCapacity(10_000)
        let payload = Data("done".utf8)
        for index in 0..<records {
            let node = index / 2 % nodeCount
            let started = index % 2 == 0
            batch.append(
                WorkflowEvent(
                    sequence: UInt64(index + 1), time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index) / 1e4),
                    change: started
                        ? .nodeStarted(node: names[node], attempt: index / (2 * nodeCount) + 1)
                        : .nodeCompleted(node: names[node], output: payload),
                    nodeIndex: Int32(node)))
            if batch.count == 10_000 || index == records - 1 {
                try await writer.append(batch, durability: .buffered)
                batch.removeAll(keepingCapacity: true)
            }
        }
        await writer.release()
        let journal = store.directory(for: key) + "/journal.log"
        return ((try? FileManager.default.attributesOfItem(atPath: journal))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Opens the workflow ``writeJournal(records:directory:)`` wrote with a fresh store and
    /// checks that every record was replayed; returns seconds.
    public static func openJournal(records: Int, directory: String) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let state = try await FlatBuffersStore(directory: directory).load(recoveryKey)
        let elapsed = (clock.now - start).seconds
        guard state.lastSequence == UInt64(records) else {
            throw FlowError(.corruptData, "recovery benchmark read \(state.lastSequence) of \(records) records")
        }
        return elapsed
    }

    /// The process's resident memory, in bytes, while it holds a `nodes`-node state loaded
    /// from a FlatBuffers store, after building and saving it. Run first in a fresh process, it
    /// is an upper bound of what the state costs (it includes the runtime and freed buffers).
    public static func residentWithState(nodes: Int, directory: String) async throws -> Int {
        let store = try FlatBuffersStore(directory: directory)
        let key = try WorkflowKey(tenant: "bench", id: "memory")
        try await store.withWriter(key) { writer in
            try await writer.save(SnapshotBench.state(nodes: nodes, id: "memory"), durability: .buffered)
        }
        let state = try await store.load(key)
        let resident = residentSetBytes()
        withExtendedLifetime(state) {}
        return resident
    }

    /// The process's resident set size, from /proc/self/statm.
    public static func residentSetBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
