import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// Timeouts at their deadline, interrupts that resume, cancellations asked for that are final.
@Suite("Timeouts, interrupts and cancellation", .timeLimit(.minutes(1)))
struct InterruptionTests {
    @Test("an action that ignores cancellation is timed out at its deadline; execute() does not wait for it")
    func timeoutWithoutWaiting() async throws {
        let release = Gate()
        let ended = Gate()
        var dag = DAG()
        try dag.addNode("stubborn", timeout: .milliseconds(100)) { _ in
            await release.wait()  // ignores cancellation
            ended.open()
            return .text("too late")
        }
        try dag.addNode("after", dependsOn: ["stubborn"]) { _ in .empty }
        let store = InMemoryStore()
        let result = try await Workflow(
            id: "stubborn", dag: dag, store: store, options: ExecutionOptions(failurePolicy: .continueIndependent)
        ).execute()
        // execute() returned while the action is still suspended: nothing has released it.
        #expect(!ended.isOpen)
        #expect(result.status == .failed)
        let node = try #require(result.state[node: "stubborn"])
        #expect(node.status == .failed)
        #expect(node.lastError?.contains("timed out after") == true, "\(node.lastError ?? "")")
        #expect(result.state[node: "after"]?.status == .skipped)
        // The abandoned action ends later; its result is dropped.
        release.open()
        await ended.wait()
        #expect(try await store.load(WorkflowKey(id: "stubborn")) == result.state)
    }

    @Test("a timed-out attempt is retried like any failure")
    func timeoutRetried() async throws {
        let calls = Mutex(0)
        var dag = DAG()
        try dag.addNode(
            "flaky", retry: RetryPolicy(maxAttempts: 2, initialBackoff: .zero), timeout: .milliseconds(100)
        ) { _ in
            if calls.withLock({ $0 += 1; return $0 }) == 1 { await Gate().wait() }  // never returns
            return .text("second")
        }
        let result = try await Workflow(id: "flaky", dag: dag, store: InMemoryStore()).execute()
        #expect(result.status == .completed)
        #expect(result.state[node: "flaky"]?.attempts == 2)
    }

    @Test("an interrupt records interrupted, gives the attempt back, and the next run completes it")
    func interruptResumes() async throws {
        let started = Gate()
        let runs = Mutex(0)
        var dag = DAG()
        try dag.addNode("once") { _ in
            if runs.withLock({ $0 += 1; return $0 }) == 1 {
                started.open()
                try await Task.sleep(for: .seconds(3600))  // until the interrupt
            }
            return .text("done")
        }
        let store = InMemoryStore()
        let workflow = Workflow(id: "interrupted", dag: dag, store: store, options: ExecutionOptions(persistence: .node))
        let task = Task { try await workflow.execute() }
        await started.wait()
        task.cancel()
        let interrupted = try await task.value
        #expect(interrupted.status == .interrupted)
        #expect(interrupted.state[node: "once"]?.status == .interrupted)
        #expect(interrupted.state[node: "once"]?.countedAttempts == 0)  // given back
        #expect(try await store.load(WorkflowKey(id: "interrupted")).status == .interrupted)
        // One attempt allowed (no retry), yet it runs again: the interrupt did not spend it.
        let resumed = try await workflow.execute()
        #expect(resumed.status == .completed)
        #expect(resumed.state[node: "once"]?.attempts == 2)
    }

    @Test("a cancellation asked for records cancelled with its reason; execute() refuses it until a reset")
    func cancellationRequest() async throws {
        let started = Gate()
        let runs = Mutex(0)
        var dag = DAG()
        try dag.addNode("long") { _ in
            if runs.withLock({ $0 += 1; return $0 }) == 1 {
                started.open()
                try await Task.sleep(for: .seconds(3600))
            }
            return .empty
        }
        try dag.addNode("after", dependsOn: ["long"]) { _ in .empty }
        let store = InMemoryStore()
        let request = CancellationRequest()
        var workflow = Workflow(id: "cancel-me", dag: dag, store: store, options: ExecutionOptions(persistence: .node))
        workflow.options.cancellation = request
        let running = workflow
        let task = Task { try await running.execute() }
        await started.wait()
        request.cancel(reason: "superseded")
        let result = try await task.value
        #expect(result.status == .cancelled)
        #expect(result.state.reason == "superseded")
        #expect(result.state[node: "long"]?.status == .cancelled)
        #expect(result.state[node: "after"]?.status == .pending)
        workflow.options.cancellation = nil
        let refusal = await #expect(throws: FlowError.self) { try await workflow.execute() }
        #expect(refusal?.code == .cancelled)
        #expect(refusal?.message.contains("superseded") == true)
        try await workflow.reset(node: "long")
        let resumed = try await workflow.execute()
        #expect(resumed.status == .completed)
        #expect(resumed.state.reason == nil)
    }

    @Test("Workflow.cancel records a stored workflow cancelled for good, durably")
    func cancelStored() async throws {
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .empty }
        let store = InMemoryStore()
        let workflow = Workflow(id: "stored", dag: dag, store: store)
        // A workflow cancelled before it ever ran to completion.
        var options = workflow.options
        options.cancellation = CancellationRequest()
        options.cancellation?.cancel()
        var early = workflow
        early.options = options
        let first = try await early.execute()
        #expect(first.status == .cancelled && first.state.nodes.allSatisfy { $0.status == .pending })
        try await workflow.reset(node: "a")
        let cancelled = try await workflow.cancel(reason: "not needed")
        #expect(cancelled.status == .cancelled && cancelled.reason == "not needed")
        #expect(cancelled.nodes.allSatisfy { $0.status == .cancelled })
        #expect(try await store.load(WorkflowKey(id: "stored")) == cancelled)
        await #expect(throws: FlowError.self) { try await workflow.execute() }
        // A completed workflow is left as it is.
        try await workflow.reset(node: "a", includingDescendants: true)
        #expect(try await workflow.execute().status == .completed)
        #expect(try await workflow.cancel().status == .completed)
    }
}
