import Foundation

/// A stored workflow as a ``WorkflowRuntime`` sees it: its status, its end, its events, and a
/// way to cancel it. Valid in any process that shares the store.
public struct WorkflowHandle: Sendable {
    /// The workflow.
    public let key: WorkflowKey
    /// The runtime the handle came from.
    public let runtime: WorkflowRuntime

    /// The workflow's stored state; `notFound` when there is none.
    public func state() async throws -> WorkflowState {
        try await runtime.store.load(key)
    }

    /// The workflow's stored status.
    public func status() async throws -> WorkflowStatus {
        try await state().status
    }

    /// Waits until the workflow is finished (completed, failed or cancelled, whichever process
    /// runs it) and returns its final state, checking every `pollInterval`. Throws
    /// `CancellationError` when the waiting task is cancelled, `notFound` for an unknown workflow.
    public func result(pollInterval: Duration = .milliseconds(20)) async throws -> WorkflowState {
        while true {
            let state = try await self.state()
            if state.status.isFinished { return state }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// Cancels the workflow from this process (see ``WorkflowRuntime/cancel(_:reason:)``);
    /// the request is durable on return.
    public func cancel(reason: String = "cancelled by request") async throws {
        try await runtime.cancel(key, reason: reason)
    }

    /// The workflow's events from sequence `from` on, then each new one as any process
    /// journals it, ending after the workflow finishes.
    public func events(from: UInt64 = 1) -> AsyncThrowingStream<WorkflowEvent, any Error> {
        runtime.events(key, from: from)
    }
}
