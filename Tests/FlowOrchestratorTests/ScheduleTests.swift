import Testing

@testable import FlowOrchestrator

/// The scheduling bookkeeping as a value: no tasks, no store, no events.
@Suite("Schedule")
struct ScheduleTests {
    /// a → b, a → c, b → d, c → d, plus e alone.
    private func diamond(_ scheduling: Scheduling) throws -> Schedule {
        var dag = DAG()
        for name in ["a", "b", "c", "d", "e"] {
            let needs: [String] =
                switch name {
                case "b", "c": ["a"]
                case "d": ["b", "c"]
                default: []
                }
            try dag.addNode(name, dependsOn: needs) { _ in .empty }
        }
        return Schedule(dag: dag, scheduling: scheduling)
    }

    private let fresh = [NodeStatus](repeating: .pending, count: 5)

    @Test("dependencies: a completion releases exactly the dependents whose needs are all met")
    func dependencyRelease() throws {
        var schedule = try diamond(.dependencies)
        #expect(schedule.prepare(statuses: fresh, failFast: true) == Schedule.Preparation())
        #expect(schedule.initialReady() == [0, 4])
        #expect(schedule.unfinished == 5)
        schedule.end(0)
        #expect(schedule.release(0) == [1, 2])
        schedule.end(1)
        #expect(schedule.release(1) == [])  // d still needs c
        schedule.end(2)
        #expect(schedule.release(2) == [3])
        schedule.end(3)
        schedule.end(4)
        #expect(schedule.unfinished == 0)
    }

    @Test("levels: a level is handed out once, only after every node of the level before ended")
    func levels() throws {
        var schedule = try diamond(.levels)
        _ = schedule.prepare(statuses: fresh, failFast: true)
        #expect(schedule.initialReady() == [0, 4])
        #expect(schedule.advanceLevels() == [])  // level 0 not ended, nor handed out twice
        #expect(schedule.end(0) == false)  // e is still running
        #expect(schedule.release(0) == [])  // level scheduling never releases one by one
        #expect(schedule.advanceLevels() == [])
        #expect(schedule.end(4) == true)
        #expect(schedule.advanceLevels() == [1, 2])
        schedule.end(1)
        #expect(schedule.advanceLevels() == [])
        schedule.end(2)
        #expect(schedule.advanceLevels() == [3])
    }

    @Test("prepare keeps completed nodes out, counts them as met, and skips what a failure blocks")
    func prepareResume() throws {
        var schedule = try diamond(.dependencies)
        let statuses: [NodeStatus] = [.completed, .failed, .interrupted, .pending, .running]
        let preparation = schedule.prepare(statuses: statuses, failFast: false)
        #expect(preparation.alreadyCompleted == 1)
        #expect(preparation.skipped.map(\.node) == [3] && preparation.skipped.map(\.blocker) == [1])
        #expect(schedule.active == [false, false, true, false, true])
        // c's only need, a, completed before: ready at once, as is the running e.
        #expect(schedule.initialReady() == [2, 4])
    }

    @Test("with fail-fast, a failure recorded before means nothing runs")
    func failFastResume() throws {
        var schedule = try diamond(.dependencies)
        let preparation = schedule.prepare(statuses: [.completed, .failed, .pending, .pending, .pending], failFast: true)
        #expect(preparation == Schedule.Preparation())
        #expect(schedule.unfinished == 0 && schedule.initialReady() == [])
    }

    @Test("a failure skips every active descendant, transitively, and ends them")
    func skipDescendants() throws {
        var schedule = try diamond(.dependencies)
        _ = schedule.prepare(statuses: fresh, failFast: false)
        _ = schedule.initialReady()
        schedule.end(0)
        #expect(Set(schedule.skipDescendants(of: 0)) == [1, 2, 3])
        #expect(schedule.unfinished == 1)  // e
        #expect(schedule.skipDescendants(of: 0) == [])  // already ended
    }

    @Test("bypassed needs are met; compensated nodes are not run again and block their dependents")
    func reservedStatuses() throws {
        var schedule = try diamond(.dependencies)
        let preparation = schedule.prepare(
            statuses: [.bypassed, .pending, .compensated, .pending, .waiting], failFast: true)
        #expect(preparation.skipped.map(\.node) == [3])
        #expect(schedule.active == [false, true, false, false, true])
        #expect(schedule.initialReady() == [1, 4])
    }

    @Test("a retry budget counts crashed attempts and says how many a crash interrupted")
    func retryBudget() {
        let budget = RetryBudget(maxAttempts: 2)
        var node = NodeState(name: "poison")
        #expect(budget.refusal(for: node) == nil)
        node.countedAttempts = 1
        #expect(budget.refusal(for: node) == nil && budget.allowsRetry(after: node))
        node.countedAttempts = 2
        node.crashedAttempts = 2
        node.status = .interrupted
        #expect(!budget.allowsRetry(after: node))
        #expect(
            budget.refusal(for: node)
                == "attempt 2 of 2 was interrupted by a crash; 2 attempts interrupted by crashes, 2 of 2 used: retry budget spent")
    }
}
