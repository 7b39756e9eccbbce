import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// The file stores' blocking calls run on their own threads (`IOThreadPool`), never on Swift's
/// cooperative pool.
@Suite("Blocking I/O off the cooperative pool")
struct IOThreadPoolTests {
    private func threeNodes() throws -> DAG {
        var dag = DAG()
        try dag.addNode("a") { _ in .empty }
        try dag.addNode("b", dependsOn: ["a"]) { _ in .empty }
        try dag.addNode("c", dependsOn: ["b"]) { _ in .empty }
        return dag
    }

    @Test("while workflows' syncs are stuck on the disk, another task's 50 ms timer fires")
    func blockingSyncsDoNotStarveTimers() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layer = FaultyFileLayer()
        let store = try FlatBuffersStore(directory: directory.path, options: .init(), layer: layer)
        // As many stuck syncs at once as the cooperative pool has threads: were they on that
        // pool, nothing else could run until they came back (after 10 s at the latest).
        let stuck = max(2, ProcessInfo.processInfo.activeProcessorCount)
        layer.arm(.holdSyncs(count: stuck, atMostMilliseconds: 10_000))
        let dag = try threeNodes()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0...stuck {
                group.addTask {
                    let result = try await Workflow(id: "slow-\(index)", dag: dag, store: store).execute()
                    #expect(result.status == .completed)
                }
            }
            await layer.syncsHeld(stuck)
            let asleep = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(50))
            let stillStuck = layer.heldSyncs
            layer.releaseHeldSyncs()
            #expect(
                stillStuck == stuck,
                "the timer fired after \(ContinuousClock.now - asleep), once the stuck syncs gave their threads back")
            try await group.waitForAll()
        }
    }

    @Test("jobs run on the pool's threads, several at once, and return or throw what they do")
    func poolRunsJobs() async throws {
        let pool = IOThreadPool(threads: 3, name: "test pool")
        let inside = Counts()
        let gate = DispatchSemaphore(value: 0)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await pool.run {
                        let peak = inside.counts.withLock { counts in
                            counts.now += 1
                            counts.peak = max(counts.peak, counts.now)
                            return counts.peak
                        }
                        // The third job releases the other two: only threads of their own get here
                        // together.
                        if peak == 3 { gate.signal(); gate.signal() } else { gate.wait() }
                        inside.counts.withLock { $0.now -= 1 }
                        return pool.ownsCurrentThread
                    }
                }
            }
            for try await onPool in group { #expect(onPool) }
        }
        #expect(inside.counts.withLock { $0.peak } == 3)
        #expect(!pool.ownsCurrentThread)
        await #expect(throws: FlowError.self) {
            try await pool.run { () throws -> Int in throw FlowError(.io, "refused") }
        }
    }
}

private final class Counts: Sendable {
    let counts = Mutex((now: 0, peak: 0))
}
