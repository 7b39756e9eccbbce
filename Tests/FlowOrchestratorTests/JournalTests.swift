import Foundation
import Glibc
import Testing

@testable import FlowOrchestrator

/// A workflow state and a history of events over it, to journal and replay.
private struct History {
    var initial: WorkflowState
    var events: [WorkflowEvent]

    /// The state after the first `count` events.
    func state(after count: Int) throws -> WorkflowState {
        var state = initial
        try state.apply(events.prefix(count))
        return state
    }

    static func make(nodes: Int = 5) -> History {
        let names = (0..<nodes).map { "node-\($0)" }
        let initial = WorkflowState(
            id: "wf", tenant: "acme", fingerprint: "fp", nodeNames: names, input: Data("in".utf8),
            createdAt: Date(microsecondsSince1970: 1_000_000))
        var events: [WorkflowEvent] = []
        var sequence: UInt64 = 0
        func add(_ change: WorkflowEvent.Change, _ node: Int? = nil) {
            sequence += 1
            events.append(
                WorkflowEvent(
                    sequence: sequence, time: Date(microsecondsSince1970: 2_000_000 + Int64(sequence)), change: change,
                    nodeIndex: node.map(Int32.init) ?? -1))
        }
        add(.workflowStarted(status: .running))
        for index in 0..<nodes {
            add(.nodeStarted(node: names[index], attempt: 1), index)
            if index == 2 {
                add(.nodeRetried(node: names[index], attempt: 1, delay: .milliseconds(250), error: "transient"), index)
            }
            add(.nodeCompleted(node: names[index], output: Data("output \(index) ✓".utf8)), index)
            if index == 3 { add(.dataSet(key: "k", value: Data([1, 2, 3]))) }
        }
        add(.workflowFinished(status: .completed, reason: nil))
        return History(initial: initial, events: events)
    }
}

@Suite("Journal")
struct JournalTests {
    private let key = try! WorkflowKey(tenant: "acme", id: "wf")

    /// A store holding `history`'s initial snapshot and every event journaled, appended one by
    /// one; returns the journal's size after each append.
    private func journaled(_ history: History, in directory: String, options: FlatBuffersStore.Options = .init()) async throws -> [Int] {
        let store = try FlatBuffersStore(directory: directory, options: options)
        let writer = try await store.acquireWriter(key)
        try await writer.save(history.initial, durability: .fsync)
        var sizes: [Int] = []
        for event in history.events {
            try await writer.append([event], durability: .fsync)
            sizes.append(Int(try fileSize("\(directory)/acme/wf/journal.log")))
        }
        await writer.release()
        return sizes
    }

    private func fileSize(_ path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    @Test("snapshot plus journal reopen to the exact state, in another store object")
    func reopen() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        _ = try await journaled(history, in: directory.path)
        let loaded = try await FlatBuffersStore(directory: directory.path).load(key)
        #expect(loaded == (try history.state(after: history.events.count)))
        #expect(try await FlatBuffersStore(directory: directory.path).verify() == [])
    }

    @Test("a journal cut at every byte offset of its last record opens with the prefix intact")
    func cutAtEveryOffset() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        let sizes = try await journaled(history, in: directory.path)
        let path = "\(directory.path)/acme/wf/journal.log"
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        let lastStart = sizes[sizes.count - 2]
        let prefixState = try history.state(after: history.events.count - 1)
        for cut in lastStart..<full.count {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let store = try FlatBuffersStore(directory: directory.path)
            #expect(try await store.load(key) == prefixState, "cut at \(cut)")
            if cut > lastStart {
                #expect(try await store.verify().contains { $0.path == path && $0.message.contains("offset \(lastStart)") })
            }
        }
        // A writer cuts the torn tail before appending, and counts it.
        try full.prefix(full.count - 3).write(to: URL(fileURLWithPath: path))
        let store = try FlatBuffersStore(directory: directory.path)
        let writer = try await store.acquireWriter(key)
        try await writer.append([history.events.last!], durability: .fsync)
        await writer.release()
        #expect(try await store.stats().journalTailsCut == 1)
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == (try history.state(after: history.events.count)))
        #expect(try fileSize(path) == Int64(full.count))
    }

    @Test("random bit flips anywhere give a typed error or a recovered prefix, never an invented record")
    func bitFlips() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make(nodes: 8)
        _ = try await journaled(history, in: directory.path)
        let path = "\(directory.path)/acme/wf/journal.log"
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let prefixes = try (0...history.events.count).map { try history.state(after: $0) }
        var generator = SystemRandomNumberGenerator()
        var errors = 0
        var recovered = 0
        for round in 0..<400 {
            var bytes = original
            let flips = round % 4 + 1
            for _ in 0..<flips {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let loaded = try await FlatBuffersStore(directory: directory.path).load(key)
                #expect(prefixes.contains(loaded), "round \(round): loaded a state that is no prefix of the history")
                recovered += 1
            } catch let error as FlowError {
                #expect(error.code == .corruptData || error.code == .unsupportedFormat)
                #expect(error.message.hasPrefix(path))
                errors += 1
            }
        }
        #expect(errors > 0)
        #expect(recovered > 0)
    }

    @Test("damage before the tail is an error unless salvaging")
    func damageBeforeTail() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        let sizes = try await journaled(history, in: directory.path)
        let path = "\(directory.path)/acme/wf/journal.log"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[sizes[1] + 12] ^= 0x40  // inside the third record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) { try await FlatBuffersStore(directory: directory.path).load(key) }
        #expect(error?.code == .corruptData)
        #expect(error?.message.contains("offset \(sizes[1])") == true)
        #expect(error?.message.contains("valid records after it") == true)
        let salvaged = try await FlatBuffersStore(directory: directory.path, options: .init(salvage: true)).load(key)
        #expect(salvaged == (try history.state(after: 2)))
    }

    @Test("a journal that does not connect to its snapshot is refused")
    func disconnectedJournal() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        _ = try await journaled(history, in: directory.path)
        let path = "\(directory.path)/acme/wf/journal.log"
        try Data(JournalCodec.header(base: 500)).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: FlowError.self) { try await FlatBuffersStore(directory: directory.path).load(key) }
        #expect(error?.message.contains("events are missing") == true)
    }

    @Test(
        "failed writes and syncs leave the last good state and stop the writer",
        arguments: [
            FaultyFileLayer.Fault.failWrites(after: 0, errno: ENOSPC), .failWrites(after: 0, errno: EIO),
            .failSyncs(after: 0),
        ])
    func appendFaults(fault: FaultyFileLayer.Fault) async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        let layer = FaultyFileLayer()
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let writer = try await store.acquireWriter(key)
        try await writer.save(history.initial, durability: .fsync)
        try await writer.append(Array(history.events.prefix(4)), durability: .fsync)
        layer.arm(fault)
        await #expect(throws: FlowError.self) {
            try await writer.append(Array(history.events[4..<6]), durability: .fsync)
        }
        layer.arm(nil)
        let stopped = await #expect(throws: FlowError.self) {
            try await writer.append(Array(history.events[4..<6]), durability: .fsync)
        }
        #expect(stopped?.code == .writerStopped)
        await writer.release()
        // Reopened from disk: exactly what was reported durable.
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == (try history.state(after: 4)))
        // A new writer carries on.
        let again = try await store.acquireWriter(key)
        try await again.append(Array(history.events[4...]), durability: .fsync)
        await again.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == (try history.state(after: history.events.count)))
    }

    @Test("short writes still append whole records")
    func shortWrites() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        let layer = FaultyFileLayer()
        layer.arm(.shortWrites(bytes: 5))
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let writer = try await store.acquireWriter(key)
        try await writer.save(history.initial, durability: .fsync)
        try await writer.append(history.events, durability: .fsync)
        await writer.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == (try history.state(after: history.events.count)))
    }

    @Test("compaction writes a snapshot and a fresh journal; a crash between the two loses nothing")
    func compaction() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make(nodes: 10)
        _ = try await journaled(history, in: directory.path, options: .init(compactAfterRecords: 7))
        let final = try history.state(after: history.events.count)
        let path = "\(directory.path)/acme/wf/journal.log"
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == final)
        let snapshotSequence = try FlatBuffersStore(directory: directory.path).engine.loadSnapshot(key)!.state.lastSequence
        #expect(snapshotSequence > 0)
        #expect(try fileSize(path) < 7 * 200)

        // The state a crash right after the snapshot rename (before the journal restart) leaves:
        // a newer snapshot next to the old, longer journal. Replay skips what the snapshot holds.
        let other = TemporaryDirectory()
        defer { other.cleanup() }
        _ = try await journaled(history, in: other.path)
        let store = try FlatBuffersStore(directory: other.path)
        try store.engine.save(try history.state(after: 9), durability: .fsync)
        #expect(try await FlatBuffersStore(directory: other.path).load(key) == final)
    }

    @Test("a durable workflow journals every change and reopens to its final state")
    func durableWorkflow() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var dag = DAG()
        for index in 0..<20 {
            try dag.addNode("n\(index)", dependsOn: index >= 4 ? ["n\(index - 4)"] : []) { context in
                .text(context.node)
            }
        }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(compactAfterRecords: 25))
        let result = try await Workflow(
            id: "durable", dag: dag, store: store, options: ExecutionOptions(persistence: .node, durability: .fsync)
        ).execute()
        #expect(result.status == .completed)
        let reopened = try await FlatBuffersStore(directory: directory.path).load(WorkflowKey(id: "durable"))
        #expect(reopened == result.state)
        #expect(try await store.listAll().first?.status == .completed)
    }

    @Test("a failed fsync stops the run; the next run resumes from what is on disk")
    func workflowAfterFailedSync() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let recorder = Recorder()
        let layer = FaultyFileLayer()
        var dag = DAG()
        for index in 0..<6 {
            try dag.addNode("n\(index)", dependsOn: index > 0 ? ["n\(index - 1)"] : []) { context in
                recorder.record(context.node)
                // The first run's disk starts failing while n2 runs: its end cannot be synced.
                if context.node == "n2", recorder.count("n2") == 1 { layer.arm(.failSyncs(after: 0)) }
                return .empty
            }
        }
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        let workflow = Workflow(id: "w", dag: dag, store: store, options: ExecutionOptions(persistence: .node))
        let error = await #expect(throws: FlowError.self) { try await workflow.execute() }
        #expect(error?.code == .persistenceFailed)
        layer.arm(nil)
        let onDisk = try await FlatBuffersStore(directory: directory.path).load(WorkflowKey(id: "w"))
        let completed = Set(onDisk.nodes.filter { $0.status == .completed }.map(\.name))
        #expect(completed == ["n0", "n1"])
        let result = try await workflow.execute()
        #expect(result.status == .completed)
        for name in completed { #expect(recorder.count(name) == 1, "\(name) ran again") }
    }

    @Test("an event that could not be replayed is refused before anything is written")
    func invalidEventRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        let store = try FlatBuffersStore(directory: directory.path)
        let writer = try await store.acquireWriter(key)
        try await writer.save(history.initial, durability: .fsync)
        try await writer.append(Array(history.events.prefix(3)), durability: .fsync)
        let unknown = WorkflowEvent(sequence: 4, time: Date(microsecondsSince1970: 9), change: .nodeReset(node: "nowhere"))
        let error = await #expect(throws: FlowError.self) { try await writer.append([unknown], durability: .fsync) }
        #expect(error?.code == .invalidArgument)
        try await writer.append(Array(history.events[3...]), durability: .fsync)
        await writer.release()
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == (try history.state(after: history.events.count)))
    }

    @Test("saving whole states over a journaled, compacted workflow replaces snapshot and journal together")
    func saveOverJournal() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make(nodes: 10)
        _ = try await journaled(history, in: directory.path, options: .init(compactAfterRecords: 9))
        let store = try FlatBuffersStore(directory: directory.path)
        var fresh = try history.state(after: history.events.count)
        fresh.lastSequence += 100
        fresh.nodes[0].status = .pending
        try await store.saveAll([fresh])
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == fresh)
        // The history of the epochs it replaced is kept.
        #expect(try await store.history(key).count == history.events.count)
        // Moving backwards would rewrite recorded history: refused, nothing changed.
        var older = history.initial
        older.lastSequence = 3
        let backwards = await #expect(throws: FlowError.self) { try await store.saveAll([older]) }
        #expect(backwards?.code == .invalidArgument)
        let backwardsSave = await #expect(throws: FlowError.self) { try await store.saveState(older, durability: .fsync) }
        #expect(backwardsSave?.code == .invalidArgument)
        #expect(try await FlatBuffersStore(directory: directory.path).load(key) == fresh)
        // A plain save over a journal with records is atomic too.
        let other = TemporaryDirectory()
        defer { other.cleanup() }
        _ = try await journaled(history, in: other.path)
        let plain = try FlatBuffersStore(directory: other.path)
        try await plain.saveState(fresh, durability: .fsync)
        #expect(try await FlatBuffersStore(directory: other.path).load(key) == fresh)
    }

    @Test("purge confirms from the full state: a reset workflow with work left is kept")
    func purgeAfterReset() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .empty }
        let store = try FlatBuffersStore(directory: directory.path)
        let workflow = Workflow(id: "w", dag: dag, store: store, options: .init(persistence: .node))
        #expect(try await workflow.execute().status == .completed)
        _ = try await workflow.reset(node: "b")
        #expect(try await store.listAll(WorkflowQuery(statuses: [.pending])).map(\.id) == ["w"])
        #expect(try await store.purge(finishedBefore: Date().addingTimeInterval(3600)).isEmpty)
        #expect(try await workflow.execute().status == .completed)
        #expect(try await store.purge(finishedBefore: Date().addingTimeInterval(3600)).map(\.id) == ["w"])
    }

    @Test("a delete cut short leaves the workflow whole or gone, never half")
    func interruptedDelete() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        _ = try await journaled(history, in: directory.path)
        let layer = FaultyFileLayer()
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        layer.arm(.failRemovals(after: 1))
        await #expect(throws: FlowError.self) { try await store.delete(key) }
        layer.arm(nil)
        let reopened = try FlatBuffersStore(directory: directory.path)
        #expect(try await reopened.loadIfPresent(key) == nil)
        #expect(try FileIO(layer: SystemFileLayer()).list("\(directory.path)/.trash").isEmpty)
        #expect(try await reopened.verify() == [])
    }

    @Test("bit flips in summaries, journal headers and consumer positions never crash listing or verify")
    func otherFilesFlipped() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let history = History.make()
        _ = try await journaled(history, in: directory.path)
        let store = try FlatBuffersStore(directory: directory.path)
        try await store.acknowledge("reader", for: key, through: 3)
        let files = ["summary.fb", "journal.log", "consumers/reader.position"].map { "\(directory.path)/acme/wf/\($0)" }
        var generator = SystemRandomNumberGenerator()
        for path in files {
            let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            for round in 0..<120 {
                var bytes = original
                let index = round < 24 ? round : Int.random(in: 0..<bytes.count, using: &generator)
                bytes[min(index, bytes.count - 1)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let fresh = try FlatBuffersStore(directory: directory.path)
                _ = try? await fresh.listAll()
                _ = try? await fresh.stats()
                _ = try await fresh.verify()
                _ = try? await fresh.position(of: "reader", for: key)
                do {
                    let state = try await fresh.load(key)
                    #expect(state.lastSequence <= UInt64(history.events.count))
                } catch let error as FlowError {
                    #expect(error.code == .corruptData || error.code == .unsupportedFormat)
                }
            }
            try Data(original).write(to: URL(fileURLWithPath: path))
        }
        // A summary claiming an impossible size is read without trapping.
        #expect(try await store.listAll().count == 1)
    }

    @Test("many tasks saving one workflow in turn, read meanwhile, never leave a torn file")
    func concurrentSaves() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FlatBuffersStore(directory: directory.path)
        let states = (0..<8).map { index -> WorkflowState in
            var state = History.make(nodes: 50 + index).initial
            state.lastSequence = 5
            return state
        }
        try await store.saveState(states[0], durability: .buffered)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for state in states {
                group.addTask {
                    // Each save takes the writer in turn (the lock refuses a second at once).
                    var saved = 0
                    while saved < 20 {
                        do {
                            try await store.saveState(state, durability: .buffered)
                            saved += 1
                        } catch let error as FlowError where error.code == .locked {
                            await Task.yield()
                        }
                    }
                }
            }
            group.addTask {
                for _ in 0..<200 {
                    let loaded = try await FlatBuffersStore(directory: directory.path).load(key)
                    #expect(states.contains(loaded))
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("a second writer on a running workflow is refused")
    func secondRunnerRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let started = Recorder()
        var dag = DAG()
        try dag.addNode("slow") { _ in
            started.record("slow")
            try await Task.sleep(for: .milliseconds(400))
            return .empty
        }
        let first = Workflow(id: "w", dag: dag, store: try FlatBuffersStore(directory: directory.path))
        let run = Task { try await first.execute() }
        while started.all.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let second = Workflow(id: "w", dag: dag, store: try FlatBuffersStore(directory: directory.path))
        let error = await #expect(throws: FlowError.self) { try await second.execute() }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("pid \(getpid())") == true)
        #expect(try await run.value.status == .completed)
    }
}
