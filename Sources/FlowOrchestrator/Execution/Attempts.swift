import Foundation
import Synchronization

/// The retry budget of one node: how many attempts its ``RetryPolicy`` allows, counted over
/// every attempt the store recorded since the node was last reset or completed, across runs
/// and crashes (``NodeState/countedAttempts``).
///
/// An attempt cut short by a crash stays counted (a node whose attempts kill the process would
/// otherwise run forever); one cut short by an interrupt or a cancellation is given back.
struct RetryBudget: Equatable {
    /// The attempts allowed, the first included.
    var maxAttempts: Int

    /// Whether node `node` may start another attempt; nil when it may, else why not (the
    /// error the node fails with).
    func refusal(for node: NodeState) -> String? {
        let used = Int(node.countedAttempts)
        guard used >= maxAttempts else { return nil }
        let crashed = Int(node.crashedAttempts)
        if crashed > 0 {
            let last = node.status == .interrupted ? "attempt \(used) of \(maxAttempts) was interrupted by a crash; " : ""
            return "\(last)\(crashed) attempt\(crashed == 1 ? "" : "s") interrupted by crashes, \(used) of \(maxAttempts) used: retry budget spent"
        }
        return "\(used) of \(maxAttempts) attempts used: retry budget spent"
    }

    /// Whether a node whose latest attempt failed (``NodeState/countedAttempts`` includes it)
    /// gets another.
    func allowsRetry(after node: NodeState) -> Bool {
        Int(node.countedAttempts) < maxAttempts
    }
}

/// Calls node actions, racing them against their timeout.
enum TimedInvocation {
    /// Runs `node`'s action and returns its output; with a timeout, throws `timeout` when the
    /// deadline passes first, **without waiting for the action**: it is cancelled and left to
    /// end unobserved (its result is dropped), so an action that ignores cancellation cannot
    /// hold the run past its deadline. What it still does after that happens at least once more
    /// when the node is retried or resumed, which node actions must allow anyway.
    ///
    /// Cancelling the calling task (an interrupt) cancels the action and waits for it to end,
    /// so that an action that cleans up (a child process it stops) has done so on return.
    static func invoke(_ node: DAG.Node, _ context: NodeContext) async throws -> NodeOutput {
        guard let timeout = node.timeout else { return try await node.action(context) }
        let race = Race()
        let action = Task {
            do {
                race.finish(.success(try await node.action(context)))
            } catch {
                race.finish(.failure(error))
            }
        }
        let timer = Task {
            do {
                try await Task.sleep(for: timeout)
            } catch {
                return
            }
            race.finish(.failure(FlowError(.timeout, "node \(Names.quoted(node.name)) timed out after \(timeout)")))
        }
        let result = await withTaskCancellationHandler {
            await race.result()
        } onCancel: {
            // An interrupt: stop the timer and let the action's own end decide the race.
            race.forbidTimeout()
            timer.cancel()
            action.cancel()
        }
        timer.cancel()
        if case .failure(let error as FlowError) = result, error.code == .timeout {
            action.cancel()
        }
        return try result.get()
    }

    /// The first of the action's end and its deadline; later ends are dropped.
    private final class Race: Sendable {
        private struct State {
            var result: Result<NodeOutput, any Error>?
            var waiter: CheckedContinuation<Result<NodeOutput, any Error>, Never>?
            var timeoutAllowed = true
        }

        private let state = Mutex(State())

        func finish(_ result: Result<NodeOutput, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<Result<NodeOutput, any Error>, Never>? in
                guard state.result == nil else { return nil }
                if case .failure(let error as FlowError) = result, error.code == .timeout, !state.timeoutAllowed {
                    return nil
                }
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            if let waiter, let result = state.withLock({ $0.result }) { waiter.resume(returning: result) }
        }

        /// After an interrupt only the action's end counts.
        func forbidTimeout() {
            state.withLock { $0.timeoutAllowed = false }
        }

        func result() async -> Result<NodeOutput, any Error> {
            await withCheckedContinuation { waiter in
                let ready = state.withLock { state -> Result<NodeOutput, any Error>? in
                    if let result = state.result { return result }
                    state.waiter = waiter
                    return nil
                }
                if let ready { waiter.resume(returning: ready) }
            }
        }
    }
}

/// How one node's attempts ended.
enum AttemptOutcome: Sendable {
    case completed(Data)
    case failed(String)
    /// Stopped by cancellation; `attempt` is the attempt cut short, 0 when none was running.
    case cancelled(attempt: UInt32)
}

/// Runs one node's attempts until it completes, fails for good or is cancelled: the budget
/// check before each attempt, the timeout, the output limit, the retry decision and backoff.
/// What it records goes through the run's callbacks.
struct AttemptLoop {
    /// The start of an attempt as the run recorded it.
    enum Start {
        /// Attempt `attempt` is recorded started; the context to run it with.
        case started(attempt: UInt32, context: NodeContext)
        /// No attempt left: fail with this message.
        case refused(String)
    }

    let node: DAG.Node
    let maxOutputBytes: Int
    /// Records the start of the next attempt (or decides that the budget is spent).
    let begin: @Sendable () async -> Start
    /// Records a failed attempt that will be retried after `delay`; returns whether another
    /// attempt is allowed (the store's count decides, across crashes).
    let retry: @Sendable (_ attempt: UInt32, _ error: String, _ delay: (Int) -> Duration) -> Duration?

    func run() async -> AttemptOutcome {
        while true {
            let attempt: UInt32
            let context: NodeContext
            switch await begin() {
            case .refused(let message):
                return .failed(message)
            case .started(let number, let made):
                attempt = number
                context = made
            }
            let error: any Error
            do {
                let output = try await TimedInvocation.invoke(node, context)
                do {
                    try PayloadLimits.check(
                        output.bytes.count, limit: maxOutputBytes, what: "output of node \(Names.quoted(node.name))")
                } catch {
                    return .failed(error.message)
                }
                return .completed(output.bytes)
            } catch let thrown {
                error = thrown
            }
            if Task.isCancelled || error is CancellationError { return .cancelled(attempt: attempt) }
            let message = RunCoordinator.describe(error)
            guard node.retry.shouldRetry(error),
                let delay = retry(attempt, message, { node.retry.backoff(beforeRetry: $0, random: Double.random(in: 0..<1)) })
            else {
                return .failed(message)
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return .cancelled(attempt: 0)
            }
        }
    }
}
