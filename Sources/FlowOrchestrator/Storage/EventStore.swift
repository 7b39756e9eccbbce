/// A store that keeps a workflow's events, not only its state: the journaling stores
/// (``FlatBuffersStore`` on files, ``InMemoryStore`` in memory), so that tests and ephemeral
/// runs read the same history a durable run leaves.
///
/// Events are kept when the workflow is run with the `node` persistence strategy (each status
/// change journaled); a workflow saved only as whole states (`end`, `level`) has a state but no
/// events, and asking for them throws `historyUnavailable` saying so.
public protocol EventStore: WorkflowStore {
    /// Every recorded event of `key` with a sequence number of at least `from`, in order, up to
    /// `limit` events. Throws `notFound` for an unknown workflow and `historyUnavailable` for
    /// events that were never journaled or are no longer kept.
    func history(_ key: WorkflowKey, from: UInt64, limit: Int) async throws -> [WorkflowEvent]

    /// The state `key` had right after event `sequence` (0: before the first event). Throws
    /// `invalidArgument` past the last event and `historyUnavailable` when the events that lead
    /// there are not kept.
    func state(_ key: WorkflowKey, at sequence: UInt64) async throws -> WorkflowState

    /// The events of `key` from sequence `from` on: first those already recorded, then, as
    /// `subscription` says, each new one as it is recorded (by any process, for a store on
    /// files). Every event comes exactly once and in order.
    ///
    /// A workflow that does not exist yet is waited for when following (its events arrive once
    /// it is created); without `follow` it is `notFound`. With `untilFinished`, the sequence ends
    /// after a `workflowFinished` event, and at once when `from` is past the end of a workflow
    /// that has finished: a subscriber is never left waiting for events of a finished run.
    func events(_ key: WorkflowKey, from: UInt64, subscription: EventSubscription) -> AsyncThrowingStream<
        WorkflowEvent, any Error
    >

    /// The last sequence number `consumer` acknowledged for `key`; 0 when it never did.
    /// `invalidID` for a consumer name that breaks the naming rules of ``WorkflowKey``.
    func position(of consumer: String, for key: WorkflowKey) async throws -> UInt64

    /// Records that `consumer` has handled every event of `key` up to `sequence`, durable as
    /// the store is (synced to disk on files). Positions never move backwards.
    func acknowledge(_ consumer: String, for key: WorkflowKey, through sequence: UInt64) async throws
}

/// How a subscription to a workflow's events behaves (``EventStore/events(_:from:subscription:)``).
/// ``default`` holds the defaults of both subscription calls.
public struct EventSubscription: Sendable, Equatable {
    /// Whether to keep following new events once the recorded ones are delivered; false ends
    /// the sequence at the last recorded event.
    public var follow: Bool
    /// Whether the sequence ends after a `workflowFinished` event (or at once for a position
    /// past a finished workflow's end).
    public var untilFinished: Bool
    /// How often a store that cannot be told of new events (the files of another process)
    /// looks for them.
    public var pollInterval: Duration

    /// A subscription; the defaults are those of ``default``.
    public init(
        follow: Bool = EventSubscription.default.follow, untilFinished: Bool = EventSubscription.default.untilFinished,
        pollInterval: Duration = EventSubscription.default.pollInterval
    ) {
        self.follow = follow
        self.untilFinished = untilFinished
        self.pollInterval = pollInterval
    }

    private init(defaultsFollow follow: Bool, untilFinished: Bool, pollInterval: Duration) {
        self.follow = follow
        self.untilFinished = untilFinished
        self.pollInterval = pollInterval
    }

    /// Follow, end after the workflow finishes, look every 20 ms: the one place the defaults of
    /// every subscription call are set.
    public static let `default` = EventSubscription(defaultsFollow: true, untilFinished: true, pollInterval: .milliseconds(20))
}

extension EventStore {
    /// Every recorded event of `key`, from the first kept one on.
    public func history(_ key: WorkflowKey) async throws -> [WorkflowEvent] {
        try await history(key, from: 1, limit: .max)
    }

    /// ``events(_:from:subscription:)`` with the subscription's settings spelled out; the
    /// defaults are ``EventSubscription/default``'s.
    public func events(
        _ key: WorkflowKey, from: UInt64 = 1, follow: Bool = EventSubscription.default.follow,
        untilFinished: Bool = EventSubscription.default.untilFinished,
        pollInterval: Duration = EventSubscription.default.pollInterval
    ) -> AsyncThrowingStream<WorkflowEvent, any Error> {
        events(
            key, from: from,
            subscription: EventSubscription(follow: follow, untilFinished: untilFinished, pollInterval: pollInterval))
    }

    /// The events of `key` starting right after the last one `consumer` acknowledged, so a
    /// consumer that restarts loses and repeats nothing it acknowledged; otherwise as
    /// ``events(_:from:subscription:)`` (with the same defaults: a consumer whose position is
    /// past a finished workflow's end gets a sequence that ends at once).
    public func events(
        _ key: WorkflowKey, consumer: String, follow: Bool = EventSubscription.default.follow,
        untilFinished: Bool = EventSubscription.default.untilFinished,
        pollInterval: Duration = EventSubscription.default.pollInterval
    ) async throws -> AsyncThrowingStream<WorkflowEvent, any Error> {
        let start = try await position(of: consumer, for: key) + 1
        return events(
            key, from: start,
            subscription: EventSubscription(follow: follow, untilFinished: untilFinished, pollInterval: pollInterval))
    }
}

extension FlatBuffersStore: EventStore {}
