import Foundation

/// What the runtime records about a workflow when it starts it, next to the workflow's state:
/// the type and version that build its DAG, and where and when it is queued. Written once,
/// before the workflow's first state, and never changed.
public struct RunRecord: Sendable, Equatable, Codable {
    /// The ``WorkflowType`` name.
    public var type: String
    /// The ``WorkflowType`` version.
    public var version: Int
    /// The queue the workflow runs from.
    public var queue: String
    /// A larger priority is claimed first.
    public var priority: Int
    /// The earliest start, in microseconds since 1970 (UTC).
    public var notBeforeMicros: Int64
    /// When it was started, in microseconds since 1970 (UTC).
    public var createdMicros: Int64

    /// A record with every field given.
    public init(type: String, version: Int, queue: String, priority: Int, notBefore: Date, created: Date) {
        self.type = type
        self.version = version
        self.queue = queue
        self.priority = priority
        notBeforeMicros = notBefore.microsecondsSince1970
        createdMicros = created.microsecondsSince1970
    }

    /// The earliest start.
    public var notBefore: Date { Date(microsecondsSince1970: notBeforeMicros) }

    /// The entry that queues the workflow.
    public func entry(for key: WorkflowKey) -> QueueEntry {
        QueueEntry(queue: queue, key: key, priority: priority, notBeforeMicros: notBeforeMicros)
    }
}

/// One queued (or claimed and unfinished) workflow in a queue's ready index.
///
/// Entries are claimed in this order: larger ``priority`` first, then earlier ``notBefore``
/// (which is the start time for a start that was not delayed, so equal priorities run first in,
/// first out), then by key.
public struct QueueEntry: Sendable, Hashable, Comparable {
    /// The queue.
    public var queue: String
    /// The workflow.
    public var key: WorkflowKey
    /// The workflow's priority.
    public var priority: Int
    /// The earliest start, in microseconds since 1970.
    public var notBeforeMicros: Int64

    /// The earliest start.
    public var notBefore: Date { Date(microsecondsSince1970: notBeforeMicros) }

    /// The entry's file name in `ready/TENANT/`: the inverted priority and the start time, both
    /// fixed width, then the ID, so that name order is claim order.
    var fileName: String {
        let inverted = UInt64(bitPattern: Int64(~priority)) ^ (1 << 63)
        let start = UInt64(bitPattern: notBeforeMicros) ^ (1 << 63)
        return Self.padded(inverted) + "-" + Self.padded(start) + "-" + key.id
    }

    /// The entry a file name in `ready/TENANT/` of `queue` stands for; nil for anything else.
    init?(queue: String, tenant: String, fileName: String) {
        let parts = fileName.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 20, parts[1].count == 20,
            let inverted = UInt64(parts[0]), let start = UInt64(parts[1]),
            let key = try? WorkflowKey(tenant: tenant, id: String(parts[2]))
        else { return nil }
        self.queue = queue
        self.key = key
        priority = Int(~Int64(bitPattern: inverted ^ (1 << 63)))
        notBeforeMicros = Int64(bitPattern: start ^ (1 << 63))
    }

    /// An entry with every field given.
    public init(queue: String, key: WorkflowKey, priority: Int, notBeforeMicros: Int64) {
        self.queue = queue
        self.key = key
        self.priority = priority
        self.notBeforeMicros = notBeforeMicros
    }

    private static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: 20 - digits.count) + digits
    }

    public static func < (lhs: QueueEntry, rhs: QueueEntry) -> Bool {
        (-lhs.priority, lhs.notBeforeMicros, lhs.key) < (-rhs.priority, rhs.notBeforeMicros, rhs.key)
    }
}

/// A queue's limits, shared by every process on the store.
public struct QueueConfig: Sendable, Equatable, Codable {
    /// The most workflows of the queue running at once across every process; nil for no limit.
    public var limit: Int?
    /// The most workflows of the queue one process runs at once; nil for no limit.
    public var perWorker: Int?
    /// The most starts per ``ratePeriod``; nil for no rate limit.
    public var rateCount: Int?
    /// The rate limit's window, in microseconds.
    public var ratePeriodMicros: Int64?

    /// A configuration with every field given; limits below 1 are raised to 1.
    public init(limit: Int? = nil, perWorker: Int? = nil, rate: (count: Int, period: Duration)? = nil) {
        self.limit = limit.map { max(1, $0) }
        self.perWorker = perWorker.map { max(1, $0) }
        rateCount = rate.map { max(1, $0.count) }
        ratePeriodMicros = rate.map { max(1, $0.period.microseconds) }
    }

    /// The rate limit's window.
    public var ratePeriod: Duration? { ratePeriodMicros.map { .microseconds($0) } }

    /// The most slots the global limit allows (slot files are `0..<limit`).
    static let maxLimit = 100_000
}

/// A queued workflow as ``WorkflowRuntime/queued(queue:)`` lists it.
public struct QueuedWorkflow: Sendable, Equatable {
    /// Its entry (queue, key, priority, earliest start).
    public var entry: QueueEntry
    /// Whether a live process holds the workflow's writer (runs it) right now.
    public var claimed: Bool
}
