import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

@Suite("Executor", .timeLimit(.minutes(2)))
struct ExecutorTests {
    @Test("every node runs once and dependents read their dependencies' outputs")
    func outputsFlow() async throws {
        struct Count: Codable, Equatable { var n: Int }
        let recorder = Recorder()
        var dag = DAG()
        try dag.addNode("source") { context in
            recorder.record(context.node)
            return try .json(Count(n: 20))
        }
        try dag.addNode("double", dependsOn: ["source"]) { context in
            recorder.record(context.node)
            let count = try context.output(of: "source", as: Count.self)
            return try .json(Count(n: count.n * 2))
        }
        try dag.addNode("text", dependsOn: ["double"]) { context in
            recorder.record(context.node)
            let count = try context.output(of: "double", as: Count.self)
            try await context.setValue(Data("seen".utf8), forKey: "flag")
            return .text("n=\(count.n) input=\(String(decoding: context.input, as: UTF8.self))")
        }
        let store = InMemoryStore()
        let result = try await Workflow(key: try WorkflowKey(id: "flow"), dag: dag, store: store).execute(input: Data("hi".utf8))
        #expect(result.status == .completed)
        #expect(recorder.all == ["source", "double", "text"])
        #expect(result.state[node: "text"]?.output == Data("n=40 input=hi".utf8))
        #expect(result.state.data["flag"] == Data("seen".utf8))
        let stored = try await store.load(WorkflowKey(id: "flow"))
        #expect(stored == result.state)
    }

    @Test("levels: a level starts only after the whole previous level ended")
    func levelOrder() async throws {
        let recorder = Recorder()
        // b ends first; c only once b has ended, a only once c has: d, which needs only b,
        // would start before a ends if it did not wait for the whole level.
        let bEnded = Gate(), cEnded = Gate()
        var dag = DAG()
        for (name, waitFor, opens) in [("a", cEnded, nil), ("b", nil, bEnded), ("c", bEnded, cEnded)] as [(String, Gate?, Gate?)] {
            try dag.addNode(name) { context in
                recorder.record("start \(context.node)")
                await waitFor?.wait()
                recorder.record("end \(context.node)")
                opens?.open()
                return .empty
            }
        }
        try dag.addNode("d", dependsOn: ["b"]) { context in
            recorder.record("start \(context.node)")
            return .empty
        }
        let result = try await Workflow(
            key: try WorkflowKey(id: "levels"), dag: dag, store: InMemoryStore(), options: ExecutionOptions(scheduling: .levels)
        ).execute()
        #expect(result.status == .completed)
        let startD = try #require(recorder.position("start d"))
        for name in ["a", "b", "c"] {
            #expect(try #require(recorder.position("end \(name)")) < startD)
        }
    }

    @Test("dependency-driven scheduling starts a node as soon as its own dependencies end")
    func dependencyDriven() async throws {
        let recorder = Recorder()
        // slow ends only once after-fast has started: with level scheduling the run would hang
        // (and the suite's time limit fail it).
        let afterFastStarted = Gate()
        var dag = DAG()
        try dag.addNode("slow") { _ in
            await afterFastStarted.wait()
            recorder.record("end slow")
            return .empty
        }
        try dag.addNode("fast") { _ in .empty }
        try dag.addNode("after-fast", dependsOn: ["fast"]) { _ in
            recorder.record("start after-fast")
            afterFastStarted.open()
            return .empty
        }
        let result = try await Workflow(
            key: try WorkflowKey(id: "deps"), dag: dag, store: InMemoryStore(), options: ExecutionOptions(scheduling: .dependencies)
        ).execute()
        #expect(result.status == .completed)
        #expect(recorder.all == ["start after-fast", "end slow"])
    }

    @Test("the concurrency bound is honoured", arguments: [Scheduling.levels, .dependencies])
    func concurrencyBound(scheduling: Scheduling) async throws {
        let recorder = Recorder()
        // The first three nodes to start wait until three are in flight at once; the rest pass.
        let threeRunning = Gate()
        var dag = DAG()
        for i in 0..<24 {
            try dag.addNode("n\(i)") { _ in
                await recorder.running {
                    if recorder.inFlightNow >= 3 { threeRunning.open() }
                    await threeRunning.wait()
                }
                return .empty
            }
        }
        let options = ExecutionOptions(maxConcurrency: 3, scheduling: scheduling)
        let result = try await Workflow(key: try WorkflowKey(id: "bound"), dag: dag, store: InMemoryStore(), options: options).execute()
        #expect(result.status == .completed)
        #expect(recorder.peak == 3)
    }

    @Test("retries: attempts are counted, retried events carry the backoff")
    func retries() async throws {
        let calls = Mutex(0)
        var dag = DAG()
        let policy = RetryPolicy(
            maxAttempts: 4, initialBackoff: .milliseconds(20), multiplier: 2, maxBackoff: .seconds(1), jitter: 0.5)
        try dag.addNode("flaky", retry: policy) { context in
            let n = calls.withLock { count in
                count += 1
                return count
            }
            #expect(context.attempt == n)
            if n < 3 { throw TestFailure("boom \(n)") }
            return .text("ok")
        }
        let events = Mutex<[WorkflowEvent]>([])
        let options = ExecutionOptions(onEvent: { event in events.withLock { $0.append(event) } })
        let result = try await Workflow(key: try WorkflowKey(id: "retry"), dag: dag, store: InMemoryStore(), options: options).execute()
        #expect(result.status == .completed)
        #expect(result.state[node: "flaky"]?.attempts == 3)
        #expect(result.metrics.retries == 2)
        let retried = events.withLock { events in
            events.compactMap { event -> (attempt: Int, delay: Duration, error: String)? in
                guard case .nodeRetried(_, let attempt, let delay, let error) = event.change else { return nil }
                return (attempt, delay, error)
            }
        }
        #expect(retried.map(\.error) == ["boom 1", "boom 2"])
        #expect(retried.map(\.attempt) == [1, 2])
        // Retry n waits between (1 - jitter) and 1 times initial × multiplier^(n-1).
        #expect((Duration.milliseconds(10)...Duration.milliseconds(20)).contains(retried[0].delay))
        #expect((Duration.milliseconds(20)...Duration.milliseconds(40)).contains(retried[1].delay))
    }

    @Test("a retry policy's backoff grows exponentially, is capped and jittered")
    func backoffFormula() {
        let policy = RetryPolicy(
            maxAttempts: 10, initialBackoff: .milliseconds(100), multiplier: 3, maxBackoff: .seconds(2), jitter: 0.25)
        #expect(policy.backoff(beforeRetry: 1, random: 0) == .milliseconds(100))
        #expect(policy.backoff(beforeRetry: 2, random: 0) == .milliseconds(300))
        #expect(policy.backoff(beforeRetry: 3, random: 0) == .milliseconds(900))
        #expect(policy.backoff(beforeRetry: 4, random: 0) == .seconds(2))
        #expect(policy.backoff(beforeRetry: 2, random: 1) == .milliseconds(225))
    }

    @Test("an error the policy does not retry fails at once; the last error is kept")
    func nonRetryable() async throws {
        let calls = Mutex(0)
        var dag = DAG()
        let policy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(1)) { error in
            (error as? TestFailure)?.description != "fatal"
        }
        try dag.addNode("once", retry: policy) { _ in
            calls.withLock { $0 += 1 }
            throw TestFailure("fatal")
        }
        let result = try await Workflow(key: try WorkflowKey(id: "fatal"), dag: dag, store: InMemoryStore()).execute()
        #expect(result.status == .failed)
        #expect(calls.withLock { $0 } == 1)
        #expect(result.state[node: "once"]?.status == .failed)
        #expect(result.state[node: "once"]?.lastError == "fatal")
    }

    // An executor that waited for the node would take the hour; the time limit (a hang guard,
    // not a speed check: the trait counts in minutes) fails the test long before. Whether a
    // blocked disk delays timers is IOThreadPoolTests' question
    // ("while workflows' syncs are stuck on the disk, another task's 50 ms timer fires").
    @Test("a node past its timeout fails with a timeout error", .timeLimit(.minutes(1)))
    func timeout() async throws {
        var dag = DAG()
        try dag.addNode("sleepy", timeout: .milliseconds(50)) { _ in
            try await Task.sleep(for: .seconds(3600))
            return .empty
        }
        let result = try await Workflow(key: try WorkflowKey(id: "timeout"), dag: dag, store: InMemoryStore()).execute()
        #expect(result.status == .failed)
        #expect(result.state[node: "sleepy"]?.lastError?.contains("timed out after") == true)
    }

    @Test("cancelling the task records interrupted (which resumes), never failed or cancelled")
    func cancellation() async throws {
        let started = Gate()
        var dag = DAG()
        try dag.addNode("long") { _ in
            started.open()
            try await Task.sleep(for: .seconds(3600))  // until cancelled
            return .empty
        }
        try dag.addNode("after", dependsOn: ["long"]) { _ in .empty }
        let store = InMemoryStore()
        let workflow = Workflow(key: try WorkflowKey(id: "cancel"), dag: dag, store: store)
        let task = Task { try await workflow.execute() }
        await started.wait()
        task.cancel()
        let result = try await task.value
        #expect(result.status == .interrupted)
        #expect(result.state[node: "long"]?.status == .interrupted)
        #expect(result.state[node: "after"]?.status == .pending)
        #expect(try await store.load(WorkflowKey(id: "cancel")).status == .interrupted)
    }

    /// a fails as soon as c is running; b needs a; c is independent and slow; d needs c.
    private func failingDAG(_ recorder: Recorder, slow: Duration = .milliseconds(200)) throws -> DAG {
        var dag = DAG()
        let cRunning = Gate()
        try dag.addNode("a") { _ in
            // Fail only once c is in flight: the two start concurrently, and a failure handled
            // before c starts would leave c pending rather than cancelled.
            await cRunning.wait()
            throw TestFailure("a broke")
        }
        try dag.addNode("c") { _ in
            cRunning.open()
            try await Task.sleep(for: slow)
            recorder.record("c done")
            return .empty
        }
        try dag.addNode("b", dependsOn: ["a"]) { _ in
            recorder.record("b ran")
            return .empty
        }
        try dag.addNode("d", dependsOn: ["c"]) { _ in
            recorder.record("d ran")
            return .empty
        }
        return dag
    }

    @Test("fail fast cancels what is in flight and starts nothing new")
    func failFast() async throws {
        let recorder = Recorder()
        let options = ExecutionOptions(failurePolicy: .failFast)
        let result = try await Workflow(
            key: try WorkflowKey(id: "ff"), dag: try failingDAG(recorder, slow: .seconds(60)), store: InMemoryStore(), options: options
        ).execute()
        #expect(result.status == .failed)
        #expect(result.state[node: "a"]?.status == .failed)
        #expect(result.state[node: "a"]?.lastError == "a broke")
        #expect(result.state[node: "c"]?.status == .cancelled)
        #expect(result.state[node: "b"]?.status == .pending)
        #expect(result.state[node: "d"]?.status == .pending)
        #expect(recorder.all.isEmpty)
    }

    @Test(
        "continue runs independent branches and skips the failure's dependents",
        arguments: [Scheduling.levels, .dependencies])
    func continueIndependent(scheduling: Scheduling) async throws {
        let recorder = Recorder()
        let options = ExecutionOptions(scheduling: scheduling, failurePolicy: .continueIndependent)
        let result = try await Workflow(
            key: try WorkflowKey(id: "cont"), dag: try failingDAG(recorder), store: InMemoryStore(), options: options
        ).execute()
        #expect(result.status == .failed)
        #expect(result.state[node: "b"]?.status == .skipped)
        #expect(result.state[node: "b"]?.lastError == "dependency \"a\" failed")
        #expect(result.state[node: "c"]?.status == .completed)
        #expect(result.state[node: "d"]?.status == .completed)
        #expect(recorder.all == ["c done", "d ran"])
    }

    @Test("resume skips completed nodes; reset failed nodes runs them again")
    func resume() async throws {
        let recorder = Recorder()
        let failOnce = Mutex(true)
        var dag = DAG()
        try dag.addNode("one") { _ in
            recorder.record("one")
            return .text("1")
        }
        try dag.addNode("two", dependsOn: ["one"]) { _ in
            recorder.record("two")
            if failOnce.withLock({ $0 }) { throw TestFailure("not yet") }
            return .empty
        }
        try dag.addNode("three", dependsOn: ["two"]) { context in
            recorder.record("three")
            return NodeOutput(try context.output(of: "one") ?? Data())
        }
        let store = InMemoryStore()
        let workflow = Workflow(key: try WorkflowKey(id: "resume"), dag: dag, store: store)
        #expect(try await workflow.execute().status == .failed)
        // Without a reset, the failed node stays failed and nothing runs.
        #expect(try await workflow.execute().status == .failed)
        #expect(recorder.all == ["one", "two"])

        failOnce.withLock { $0 = false }
        let reset = try await workflow.resetFailedNodes()
        #expect(reset[node: "two"]?.status == .pending)
        #expect(reset.status == .pending)  // a reset workflow has work again
        let result = try await workflow.execute()
        #expect(result.status == .completed)
        #expect(recorder.all == ["one", "two", "two", "three"])
        #expect(result.metrics.nodesAlreadyCompleted == 1)
        #expect(result.state[node: "three"]?.output == Data("1".utf8))
        #expect(result.state[node: "two"]?.attempts == 2)
    }

    @Test("nodes found running run again with their attempt counted and a stable idempotency key")
    func runningNodesRerun() async throws {
        let seen = Mutex<[(Int, String)]>([])
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        try dag.addNode("b", dependsOn: ["a"]) { context in
            seen.withLock { $0.append((context.attempt, context.idempotencyKey)) }
            return .empty
        }
        // The state a crash leaves: a completed, b started once and never finished.
        var crashed = WorkflowState(id: "crash", tenant: "t1", fingerprint: dag.fingerprint, nodeNames: ["a", "b"])
        crashed.status = .running
        crashed.nodes[0].status = .completed
        crashed.nodes[0].attempts = 1
        crashed.nodes[1].status = .running
        crashed.nodes[1].attempts = 1
        let store = InMemoryStore()
        try await store.saveState(crashed, durability: .fsync)

        let result = try await Workflow(key: try WorkflowKey(tenant: "t1", id: "crash"), dag: dag, store: store).execute()
        #expect(result.status == .completed)
        #expect(seen.withLock { $0.map(\.0) } == [2])
        #expect(seen.withLock { $0.map(\.1) } == ["t1/crash/b"])
        #expect(result.state[node: "b"]?.attempts == 2)
        #expect(result.state[node: "a"]?.attempts == 1)
    }

    @Test("resuming with a different DAG is an error unless allowed")
    func fingerprintMismatch() async throws {
        let recorder = Recorder()
        var first = DAG()
        try first.addNode("a") { _ in
            recorder.record("a")
            return .empty
        }
        let store = InMemoryStore()
        _ = try await Workflow(key: try WorkflowKey(id: "fp"), dag: first, store: store).execute()

        var second = first
        try second.addNode("b", dependsOn: ["a"]) { _ in
            recorder.record("b")
            return .empty
        }
        let error = await #expect(throws: FlowError.self) {
            try await Workflow(key: try WorkflowKey(id: "fp"), dag: second, store: store).execute()
        }
        #expect(error?.code == .fingerprintMismatch)
        #expect(error?.message.contains("default/fp") == true)

        let allowed = Workflow(key: try WorkflowKey(id: "fp"), dag: second, store: store, options: ExecutionOptions(allowDAGChange: true))
        let result = try await allowed.execute()
        #expect(result.status == .completed)
        #expect(recorder.all == ["a", "b"])
        #expect(result.state.fingerprint == second.fingerprint)
    }

    @Test("reset of one node with its descendants, and mark completed by hand")
    func partialRecovery() async throws {
        let recorder = Recorder()
        var dag = DAG()
        for (name, deps) in [("a", []), ("b", ["a"]), ("c", ["b"]), ("x", [String]())] {
            try dag.addNode(name, dependsOn: deps) { context in
                recorder.record(context.node)
                return .empty
            }
        }
        let store = InMemoryStore()
        let workflow = Workflow(key: try WorkflowKey(id: "partial"), dag: dag, store: store)
        _ = try await workflow.execute()
        let reset = try await workflow.reset(node: "b", includingDescendants: true)
        #expect(reset.nodes.map(\.status) == [.completed, .pending, .pending, .completed])
        _ = try await workflow.execute()
        #expect(recorder.all.sorted() == ["a", "b", "b", "c", "c", "x"])

        _ = try await workflow.reset(node: "a")
        let marked = try await workflow.markCompleted(node: "a", output: Data("manual".utf8))
        #expect(marked[node: "a"]?.status == .completed)
        #expect(marked[node: "a"]?.output == Data("manual".utf8))
        let unknown = await #expect(throws: FlowError.self) { try await workflow.reset(node: "nope") }
        #expect(unknown?.code == .unknownNode)
    }

    @Test("payload limits: a large output fails its node, a large input is refused")
    func payloadLimits() async throws {
        var dag = DAG()
        try dag.addNode("big") { _ in NodeOutput(Data(count: 2048)) }
        let options = ExecutionOptions(limits: PayloadLimits(maxInputBytes: 16, maxOutputBytes: 1024))
        let workflow = Workflow(key: try WorkflowKey(id: "limits"), dag: dag, store: InMemoryStore(), options: options)
        let tooBig = await #expect(throws: FlowError.self) { try await workflow.execute(input: Data(count: 17)) }
        #expect(tooBig?.code == .payloadTooLarge)
        let result = try await workflow.execute()
        #expect(result.status == .failed)
        #expect(
            result.state[node: "big"]?.lastError == "output of node \"big\" is 2048 bytes, over the limit of 1024 bytes")
    }

    @Test("the events of a run rebuild its final state exactly")
    func eventsRebuildState() async throws {
        let events = Mutex<[WorkflowEvent]>([])
        var dag = DAG()
        try dag.addNode("a") { context in
            try await context.setValue(Data("v".utf8), forKey: "k")
            return .text("A")
        }
        try dag.addNode("b", dependsOn: ["a"], retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1))) {
            context in
            if context.attempt == 1 { throw TestFailure("first") }
            return .text("B")
        }
        try dag.addNode("c") { _ in throw TestFailure("c fails") }
        let options = ExecutionOptions(
            failurePolicy: .continueIndependent, onEvent: { event in events.withLock { $0.append(event) } })
        let result = try await Workflow(key: try WorkflowKey(id: "replay"), dag: dag, store: InMemoryStore(), options: options).execute()
        var rebuilt = WorkflowState(
            id: "replay", tenant: "default", fingerprint: dag.fingerprint, nodeNames: dag.nodeNames,
            createdAt: result.state.createdAt)
        rebuilt.shape = DAGShape(dag)  // stored at creation, not by an event
        try rebuilt.apply(events.withLock { $0 })
        #expect(rebuilt == result.state)
        #expect(events.withLock { $0.map(\.sequence) } == Array(1...UInt64(events.withLock { $0.count })))
    }

    @Test("persistence strategies write when they promise to")
    func strategies() async throws {
        func dag(_ check: (@Sendable (NodeContext) async throws -> Void)? = nil) throws -> DAG {
            var dag = DAG()
            try dag.addNode("a") { _ in .text("a") }
            try dag.addNode("b", dependsOn: ["a"]) { context in
                try await check?(context)
                return .empty
            }
            try dag.addNode("c", dependsOn: ["b"]) { _ in .empty }
            return dag
        }
        let end = CountingStore()
        _ = try await Workflow(key: try WorkflowKey(id: "w"), dag: try dag(), store: end, options: .init(persistence: .end)).execute()
        #expect(end.saves == 1)
        #expect(end.appends == 0)

        let level = CountingStore()
        _ = try await Workflow(key: try WorkflowKey(id: "w"), dag: try dag(), store: level, options: .init(scheduling: .levels, persistence: .level)).execute()
        // Creation, the run's start (so that a crash in the run is seen as one), one per level,
        // the end.
        #expect(level.saves == 1 + 1 + 3 + 1)

        let node = CountingStore()
        // With the node strategy, a dependency's completion is in the store before b starts.
        let checked = try dag { context in
            let stored = try await node.load(WorkflowKey(id: context.workflowID))
            #expect(stored[node: "a"]?.status == .completed)
            #expect(stored[node: "a"]?.output == Data("a".utf8))
        }
        let result = try await Workflow(key: try WorkflowKey(id: "w"), dag: checked, store: node, options: .init(persistence: .node))
            .execute()
        #expect(node.saves == 1)
        #expect(node.appends >= 4)
        #expect(try await node.load(WorkflowKey(id: "w")) == result.state)

        let snapshotsOnly = CountingStore(journal: false)
        _ = try await Workflow(key: try WorkflowKey(id: "w"), dag: try dag(), store: snapshotsOnly, options: .init(persistence: .node))
            .execute()
        #expect(snapshotsOnly.saves >= 4)
        #expect(snapshotsOnly.appends == 0)
    }

    @Test("a failed write stops the run with persistenceFailed; the store keeps the last durable state")
    func persistenceFailure() async throws {
        let recorder = Recorder()
        var dag = DAG()
        for i in 0..<5 {
            try dag.addNode("n\(i)", dependsOn: i == 0 ? [] : ["n\(i - 1)"]) { context in
                recorder.record(context.node)
                return .empty
            }
        }
        let store = FailingStore(allowedWrites: 3)
        let error = await #expect(throws: FlowError.self) {
            try await Workflow(key: try WorkflowKey(id: "f"), dag: dag, store: store, options: .init(persistence: .node)).execute()
        }
        #expect(error?.code == .persistenceFailed)
        // Writes: the new state, n0's end, n1's end; n2 ran but its end could not be recorded,
        // so n3 never started.
        #expect(recorder.all == ["n0", "n1", "n2"])
        let stored = try await store.load(WorkflowKey(id: "f"))
        // n2's start was published (unsynced) before it ran: a resume finds it running.
        #expect(stored.nodes.map(\.status) == [.completed, .completed, .running, .pending, .pending])
    }

    @Test("a second writer on the same workflow is refused")
    func singleWriter() async throws {
        let store = InMemoryStore()
        let key = try WorkflowKey(id: "locked")
        let writer = try await store.acquireWriter(key)
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        let error = await #expect(throws: FlowError.self) {
            try await Workflow(key: try WorkflowKey(id: "locked"), dag: dag, store: store).execute()
        }
        #expect(error?.code == .locked)
        await writer.release()
        #expect(try await Workflow(key: try WorkflowKey(id: "locked"), dag: dag, store: store).execute().status == .completed)
    }

    @Test("hostile workflow and tenant IDs are refused", arguments: ["", "..", "../etc", "a/b", ".x", "a\0"])
    func hostileIDs(id: String) async throws {
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        let byID = await #expect(throws: FlowError.self) {
            try await Workflow(key: try WorkflowKey(id: id), dag: dag, store: InMemoryStore()).execute()
        }
        #expect(byID?.code == .invalidID)
        let byTenant = await #expect(throws: FlowError.self) {
            try await Workflow(key: try WorkflowKey(tenant: id, id: "ok"), dag: dag, store: InMemoryStore()).execute()
        }
        #expect(byTenant?.code == .invalidID)
    }

    @Test("InMemoryStore.saveAll stores every state or, on a bad one, none")
    func inMemoryTransaction() async throws {
        let store = InMemoryStore()
        let good = WorkflowState(id: "a", tenant: "t", fingerprint: "f", nodeNames: ["x"])
        let bad = WorkflowState(id: "../b", tenant: "t", fingerprint: "f", nodeNames: ["x"])
        await #expect(throws: FlowError.self) { try await store.saveAll([good, bad], durability: .fsync) }
        #expect(try await store.listAll().isEmpty)
        await #expect(throws: FlowError.self) { try await store.saveAll([good, good], durability: .fsync) }
        try await store.saveAll([good, WorkflowState(id: "b", tenant: "t", fingerprint: "f", nodeNames: [])], durability: .fsync)
        #expect(try await store.listAll().map(\.id) == ["a", "b"])
    }

    @Test("list filters by tenant, status and prefix, and pages with a cursor")
    func listing() async throws {
        let store = InMemoryStore()
        var ok = DAG()
        try ok.addNode("a") { _ in .empty }
        var bad = DAG()
        try bad.addNode("a") { _ in throw TestFailure("x") }
        for i in 0..<5 {
            _ = try await Workflow(key: try WorkflowKey(tenant: "t1", id: "job-\(i)"), dag: i == 3 ? bad : ok, store: store).execute()
        }
        _ = try await Workflow(key: try WorkflowKey(tenant: "t2", id: "job-0"), dag: ok, store: store).execute()
        _ = try await Workflow(key: try WorkflowKey(tenant: "t1", id: "other"), dag: ok, store: store).execute()

        #expect(try await store.listAll(WorkflowQuery(tenant: "t1")).count == 6)
        #expect(try await store.listAll(WorkflowQuery(statuses: [.failed])).map(\.id) == ["job-3"])
        #expect(try await store.listAll(WorkflowQuery(idPrefix: "job-")).count == 6)
        let first = try await store.list(WorkflowQuery(tenant: "t1", limit: 4))
        #expect(first.items.map(\.id) == ["job-0", "job-1", "job-2", "job-3"])
        let second = try await store.list(WorkflowQuery(tenant: "t1", limit: 4, cursor: first.nextCursor))
        #expect(second.items.map(\.id) == ["job-4", "other"])
        #expect(second.nextCursor == nil)
    }
}
