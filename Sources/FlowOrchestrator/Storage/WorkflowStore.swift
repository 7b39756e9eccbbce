import Foundation

/// A workflow's address in a store: its tenant and its ID.
///
/// Both follow the naming rules node names follow too, so that no key can name a path outside a
/// file store: 1 to 200 bytes of UTF-8, no `/`, `\`, NUL or other control character, and no
/// leading dot (which also rules out `.` and `..`). Unicode letters are welcome.
public struct WorkflowKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The tenant used when none is given.
    public static let defaultTenant = "default"

    /// The tenant namespace.
    public let tenant: String
    /// The workflow's ID within its tenant.
    public let id: String

    /// A validated key; throws `invalidID` naming the bad part.
    public init(tenant: String = WorkflowKey.defaultTenant, id: String) throws(FlowError) {
        try Names.validate(tenant, as: "tenant ID", code: .invalidID)
        try Names.validate(id, as: "workflow ID", code: .invalidID)
        self.tenant = tenant
        self.id = id
    }

    public var description: String { "\(tenant)/\(id)" }

    public static func < (lhs: WorkflowKey, rhs: WorkflowKey) -> Bool {
        (lhs.tenant, lhs.id) < (rhs.tenant, rhs.id)
    }
}

/// What ``WorkflowStore/list(_:)`` returns for one workflow, without its node details.
public struct WorkflowSummary: Sendable, Equatable, Codable {
    public var tenant: String
    public var id: String
    public var status: WorkflowStatus
    public var fingerprint: String
    public var createdAt: Date
    public var updatedAt: Date
    public var lastSequence: UInt64
    /// The number of nodes.
    public var nodeCount: Int
    /// How many nodes have each status (statuses with none are left out).
    public var nodeCounts: [NodeStatus: Int]
    /// The bytes the workflow takes in the store, where the store can tell.
    public var storedBytes: Int
    /// Why the workflow has its status when no node's error says it (``WorkflowState/reason``).
    public var reason: String?

    /// The summary of `state`.
    public init(_ state: WorkflowState, storedBytes: Int = 0) {
        tenant = state.tenant
        id = state.id
        status = state.status
        fingerprint = state.fingerprint
        createdAt = state.createdAt
        updatedAt = state.updatedAt
        lastSequence = state.lastSequence
        nodeCount = state.nodes.count
        nodeCounts = state.statusCounts
        self.storedBytes = storedBytes
        reason = state.reason
    }
}

/// Which workflows ``WorkflowStore/list(_:)`` returns, and how many at a time.
public struct WorkflowQuery: Sendable, Equatable {
    /// Only this tenant; nil for all.
    public var tenant: String?
    /// Only workflows with one of these statuses; empty for any.
    public var statuses: Set<WorkflowStatus>
    /// Only IDs starting with this prefix.
    public var idPrefix: String?
    /// Only workflows changed at or after this time.
    public var updatedSince: Date?
    /// The page size.
    public var limit: Int
    /// Where the page starts: the `nextCursor` of the previous page.
    public var cursor: String?

    /// A query with every field given; the default lists the first 100 workflows of every tenant.
    public init(
        tenant: String? = nil, statuses: Set<WorkflowStatus> = [], idPrefix: String? = nil,
        updatedSince: Date? = nil, limit: Int = 100, cursor: String? = nil
    ) {
        self.tenant = tenant
        self.statuses = statuses
        self.idPrefix = idPrefix
        self.updatedSince = updatedSince
        self.limit = max(1, limit)
        self.cursor = cursor
    }

    /// Whether `summary` passes the filters (not the cursor).
    public func matches(_ summary: WorkflowSummary) -> Bool {
        if let tenant, summary.tenant != tenant { return false }
        if !statuses.isEmpty, !statuses.contains(summary.status) { return false }
        if let idPrefix, !summary.id.hasPrefix(idPrefix) { return false }
        if let updatedSince, summary.updatedAt < updatedSince { return false }
        return true
    }

    /// The cursor that resumes a listing after `key`.
    static func cursor(after key: WorkflowKey) -> String { "\(key.tenant)/\(key.id)" }

    /// Whether `key` comes after the cursor (every key does when there is none).
    func isAfterCursor(_ key: WorkflowKey) -> Bool {
        guard let cursor, let slash = cursor.firstIndex(of: "/") else { return true }
        let last = WorkflowKey(
            uncheckedTenant: String(cursor[..<slash]), id: String(cursor[cursor.index(after: slash)...]))
        return last < key
    }

    /// One page of `summaries` (in key order) per this query's filters, limit and cursor.
    func page(of summaries: [WorkflowSummary]) -> WorkflowPage {
        var items: [WorkflowSummary] = []
        var next: String?
        for summary in summaries {
            guard let key = try? WorkflowKey(tenant: summary.tenant, id: summary.id),
                isAfterCursor(key), matches(summary)
            else { continue }
            if items.count == limit {
                next = Self.cursor(after: WorkflowKey.unchecked(items[items.count - 1]))
                break
            }
            items.append(summary)
        }
        return WorkflowPage(items: items, nextCursor: next)
    }
}

extension WorkflowKey {
    /// The key of a summary that came from a store, so was validated when it was written.
    static func unchecked(_ summary: WorkflowSummary) -> WorkflowKey {
        WorkflowKey(uncheckedTenant: summary.tenant, id: summary.id)
    }

    init(uncheckedTenant tenant: String, id: String) {
        self.tenant = tenant
        self.id = id
    }
}

/// One page of a listing.
public struct WorkflowPage: Sendable, Equatable {
    /// The workflows on this page, in (tenant, ID) order.
    public var items: [WorkflowSummary]
    /// The cursor of the next page; nil on the last one.
    public var nextCursor: String?
}

/// Where workflow states live.
///
/// Implementations must be safe to call from many tasks at once. Reads (``load(_:)``,
/// ``list(_:)``) need nothing; every write of a workflow's state goes through the
/// ``WorkflowWriter`` that ``acquireWriter(_:)`` returns, which carries a fencing epoch (see
/// docs/adr/0005-writers-and-fencing-epochs.md). A store that keeps a journal
/// (``supportsJournal``) accepts events one batch at a time; others only take whole snapshots.
public protocol WorkflowStore: Sendable {
    /// The stored state of `key`'s workflow, including every journaled event.
    ///
    /// Throws ``FlowError`` `notFound` when there is none, `corruptData` when what is stored
    /// cannot be read back in full.
    func load(_ key: WorkflowKey) async throws -> WorkflowState

    /// One page of the stored workflows that match `query`.
    func list(_ query: WorkflowQuery) async throws -> WorkflowPage

    /// Removes `key`'s workflow; throws `notFound` when there is none.
    func delete(_ key: WorkflowKey) async throws

    /// Whether ``WorkflowWriter/append(_:durability:)`` records events without rewriting the
    /// whole state.
    var supportsJournal: Bool { get }

    /// Becomes the single writer of `key`'s workflow: takes its writer lock (a second writer
    /// gets `locked`, naming the holder) and raises its fencing epoch, so that every writer
    /// acquired before this one is refused (`staleWriter`) from now on. The raised epoch is
    /// durable when this returns. The writer lasts until ``WorkflowWriter/release()``.
    func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter
}

/// The one way to change a stored workflow: what ``WorkflowStore/acquireWriter(_:)`` returns.
///
/// Every write first checks that ``epoch`` is still the workflow's current epoch; a writer that
/// a later acquisition fenced off gets ``FlowError`` `staleWriter` (naming the workflow and both
/// epochs) and nothing is written.
public protocol WorkflowWriter: Sendable {
    /// The workflow this writer writes.
    var key: WorkflowKey { get }
    /// The fencing epoch this writer was given; every acquisition raises the stored one.
    var epoch: UInt64 { get }

    /// Replaces the stored state with `state` (which must be this writer's workflow).
    ///
    /// Durable when it returns as `durability` says; a crash during the call leaves either the
    /// old state or the new one, never a mix.
    func save(_ state: WorkflowState, durability: Durability) async throws

    /// Appends `events` (consecutive, following the stored state's last sequence number) to the
    /// workflow's journal. Durable when it returns as `durability` says. Stores without a
    /// journal refuse it (`invalidArgument`).
    func append(_ events: [WorkflowEvent], durability: Durability) async throws

    /// Gives the writer lock up; later writes through this writer are refused. Calling it twice
    /// is harmless.
    func release() async
}

/// A store that can save several workflows as one transaction.
public protocol TransactionalWorkflowStore: WorkflowStore {
    /// Saves every state or none of them, even across a crash. The call acquires the
    /// workflows' writers itself (raising their epochs). Durable on return as `durability` says.
    func saveAll(_ states: [WorkflowState], durability: Durability) async throws
}

extension WorkflowStore {
    public var supportsJournal: Bool { false }

    /// Runs `body` with `key`'s writer and releases it afterwards, whether `body` throws or not.
    public func withWriter<T>(
        _ key: WorkflowKey, _ body: (any WorkflowWriter) async throws -> T
    ) async throws -> T {
        let writer = try await acquireWriter(key)
        do {
            let result = try await body(writer)
            await writer.release()
            return result
        } catch {
            await writer.release()
            throw error
        }
    }

    /// Loads `key`'s workflow, or nil when none is stored.
    public func loadIfPresent(_ key: WorkflowKey) async throws -> WorkflowState? {
        do {
            return try await load(key)
        } catch let error as FlowError where error.code == .notFound {
            return nil
        }
    }

    /// Every stored workflow that matches `query`'s filters, following the pages.
    public func listAll(_ query: WorkflowQuery = WorkflowQuery()) async throws -> [WorkflowSummary] {
        var query = query
        var all: [WorkflowSummary] = []
        while true {
            let page = try await list(query)
            all += page.items
            guard let next = page.nextCursor else { return all }
            query.cursor = next
        }
    }
}

extension TransactionalWorkflowStore {
    /// Saves every state or none, synced (`fsync`) on return.
    public func saveAll(_ states: [WorkflowState]) async throws {
        try await saveAll(states, durability: .fsync)
    }
}

extension FlowError {
    /// The refusal of a write by a fenced-off writer: nothing was written.
    static func staleWriter(_ key: WorkflowKey, epoch: UInt64, current: UInt64?) -> FlowError {
        let now = current.map { "epoch \($0)" } ?? "an unreadable epoch"
        return FlowError(
            .staleWriter,
            "workflow \(key): writer of epoch \(epoch) was fenced off (the workflow is at \(now)); nothing was written",
            workflow: key)
    }

    /// The refusal of a state for another workflow than the writer's.
    static func wrongWorkflow(_ state: WorkflowState, writer key: WorkflowKey) -> FlowError {
        FlowError(.invalidArgument, "the writer of workflow \(key) cannot save workflow \(state.tenant)/\(state.id)")
    }
}
