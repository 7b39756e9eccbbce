import CSQLite
import Dispatch
import FlowOrchestrator
import Foundation
import Synchronization

/// SQLite (the system's libsqlite3) as a persistence peer of the FlatBuffers store: the workflow
/// state as a row per node, the approach the Go library this project descends from measured.
///
/// One database file in WAL mode. Every ``WorkflowWriter/append(_:durability:)`` is one
/// transaction holding an `UPDATE` of each node row an event changed and one of the workflow
/// row; the executor's group commit (the `Persister`) hands it every change that arrived while the
/// previous transaction was being written, as it does for the journal, so concurrent changes share
/// one commit. `Durability.fsync` commits with `synchronous=FULL` (the WAL is synced before
/// the commit returns), `.buffered` with `synchronous=NORMAL` (not synced; a later FULL commit or
/// checkpoint syncs it). A save rewrites the workflow's rows in one transaction.
///
/// For benchmarks only: one process, one connection, calls run one at a time on the store's own
/// thread (as the FlatBuffers store runs its file I/O off the caller's threads).
public final class SQLiteStore: WorkflowStore, @unchecked Sendable {
    /// Opened connections are used only on `queue`.
    private let database: OpaquePointer
    private let queue = DispatchQueue(label: "flow.bench.sqlite")
    private let path: String
    /// Writers held in this process.
    private let held = Mutex<Set<WorkflowKey>>([])
    /// The `synchronous` setting of the connection now (used only on `queue`).
    private var synchronous: Durability?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating when missing) the database `directory`/workflows.sqlite in WAL mode.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/workflows.sqlite"
        var handle: OpaquePointer?
        let opened = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard opened == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw FlowError(.io, "sqlite: cannot open \(path): \(message)")
        }
        database = handle
        try execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS workflows (
                tenant TEXT NOT NULL, id TEXT NOT NULL, epoch INTEGER NOT NULL, stored INTEGER NOT NULL DEFAULT 0,
                format_version INTEGER, fingerprint TEXT, status INTEGER, created_at REAL, updated_at REAL,
                last_sequence INTEGER, input BLOB, definition BLOB, reason TEXT, recoveries INTEGER,
                PRIMARY KEY (tenant, id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS nodes (
                tenant TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
                status INTEGER NOT NULL, attempts INTEGER NOT NULL, started_at REAL, ended_at REAL, last_error TEXT,
                output BLOB, counted INTEGER NOT NULL, crashed INTEGER NOT NULL, open INTEGER NOT NULL,
                PRIMARY KEY (tenant, id, position)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS data (
                tenant TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, value BLOB,
                PRIMARY KEY (tenant, id, key)) WITHOUT ROWID;
            """)
        synchronous = .fsync
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(database)
    }

    public var supportsJournal: Bool { true }

    /// Bytes of the database and its WAL on disk.
    public var storedBytes: Int {
        [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }

    public func load(_ key: WorkflowKey) async throws -> WorkflowState {
        try await onQueue { try self.read(key) }
    }

    /// Not offered: this store exists to be measured running and loading one workflow (and
    /// `WorkflowPage` has no public initializer). Throws `invalidArgument`.
    public func list(_ query: WorkflowQuery) async throws -> WorkflowPage {
        throw FlowError(.invalidArgument, "the SQLite benchmark store does not list workflows")
    }

    public func delete(_ key: WorkflowKey) async throws {
        try await onQueue {
            try self.transaction(.fsync) {
                try self.run("DELETE FROM nodes WHERE tenant = ? AND id = ?", [.text(key.tenant), .text(key.id)])
                try self.run("DELETE FROM data WHERE tenant = ? AND id = ?", [.text(key.tenant), .text(key.id)])
                try self.run("DELETE FROM workflows WHERE tenant = ? AND id = ? AND stored = 1", [.text(key.tenant), .text(key.id)])
                guard sqlite3_changes(self.database) == 1 else { throw FlowError(.notFound, "workflow \(key) not found") }
            }
        }
    }

    /// Takes the in-process writer lock of `key` and raises its epoch in a synced transaction.
    public func acquireWriter(_ key: WorkflowKey) async throws -> any WorkflowWriter {
        try held.withLock { held throws(FlowError) in
            guard held.insert(key).inserted else { throw FlowError(.locked, "workflow \(key) is held by another writer in this process") }
        }
        do {
            let (epoch, state) = try await onQueue { () throws -> (UInt64, WorkflowState?) in
                var epoch: UInt64 = 0
                try self.transaction(.fsync) {
                    try self.run(
                        "INSERT INTO workflows (tenant, id, epoch) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET epoch = epoch + 1",
                        [.text(key.tenant), .text(key.id)])
                    try self.rows("SELECT epoch FROM workflows WHERE tenant = ? AND id = ?", [.text(key.tenant), .text(key.id)]) {
                        epoch = UInt64($0.int(0))
                    }
                }
                return (epoch, try? self.read(key))
            }
            return Writer(store: self, key: key, epoch: epoch, state: state)
        } catch {
            _ = held.withLock { $0.remove(key) }
            throw error
        }
    }

    final class Writer: WorkflowWriter, Sendable {
        let store: SQLiteStore
        let key: WorkflowKey
        let epoch: UInt64
        /// The stored state, kept to know what each event changes.
        let state: Mutex<WorkflowState?>
        let released = Atomic(false)

        init(store: SQLiteStore, key: WorkflowKey, epoch: UInt64, state: WorkflowState?) {
            self.store = store
            self.key = key
            self.epoch = epoch
            self.state = Mutex(state)
        }

        /// Replaces the workflow's rows in one transaction; synced on return for `.fsync`.
        func save(_ state: WorkflowState, durability: Durability) async throws {
            guard state.tenant == key.tenant, state.id == key.id else {
                throw FlowError(.invalidArgument, "the writer of workflow \(key) cannot save workflow \(state.tenant)/\(state.id)")
            }
            try checkLive()
            try await store.onQueue { try self.store.write(state, epoch: self.epoch, durability: durability) }
            self.state.withLock { $0 = state }
        }

        /// One transaction: an UPDATE of each node row an event changed, then of the workflow
        /// row (fenced by the epoch). An empty batch with `.fsync` syncs the WAL.
        func append(_ events: [WorkflowEvent], durability: Durability) async throws {
            try checkLive()
            let (updated, touched): (WorkflowState, [Int]) = try state.withLock { state throws(FlowError) in
                guard var copy = state else { throw FlowError(.notFound, "workflow \(key) not found") }
                var touched: [Int] = []
                touched.reserveCapacity(events.count)
                for event in events {
                    let index = try copy.check(event, following: copy.lastSequence)
                    try copy.apply(event)
                    if let index { touched.append(index) }
                }
                state = copy
                return (copy, touched)
            }
            let dataKeys = events.compactMap { event -> String? in
                if case .dataSet(let key, _) = event.change { return key }
                return nil
            }
            try await store.onQueue {
                if events.isEmpty {
                    if durability == .fsync { try self.store.syncWAL() }
                    return
                }
                try self.store.transaction(durability) {
                    for index in touched { try self.store.updateNode(self.key, index, updated.nodes[index]) }
                    for name in dataKeys { try self.store.writeData(self.key, name, updated.data[name]) }
                    try self.store.updateWorkflow(updated, epoch: self.epoch)
                }
            }
        }

        func release() async {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            _ = store.held.withLock { $0.remove(key) }
        }

        private func checkLive() throws(FlowError) {
            if released.load(ordering: .relaxed) {
                throw FlowError(.writerStopped, "workflow \(key): the writer of epoch \(epoch) was released")
            }
        }
    }

    // MARK: Rows

    private func write(_ state: WorkflowState, epoch: UInt64, durability: Durability) throws {
        let key = [SQLValue.text(state.tenant), .text(state.id)]
        try transaction(durability) {
            try run("DELETE FROM nodes WHERE tenant = ? AND id = ?", key)
            try run("DELETE FROM data WHERE tenant = ? AND id = ?", key)
            for (position, node) in state.nodes.enumerated() {
                try run(
                    """
                    INSERT INTO nodes (tenant, id, position, name, status, attempts, started_at, ended_at, last_error, output,
                        counted, crashed, open) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, key + [.int(Int64(position)), .text(node.name)] + Self.nodeValues(node))
            }
            for (name, value) in state.data {
                try run("INSERT INTO data (tenant, id, key, value) VALUES (?, ?, ?, ?)", key + [.text(name), .blob(value)])
            }
            try updateWorkflow(state, epoch: epoch)
        }
    }

    private static func nodeValues(_ node: NodeState) -> [SQLValue] {
        [
            .int(Int64(node.status.rawValue)), .int(Int64(node.attempts)), .real(node.startedAt), .real(node.endedAt),
            node.lastError.map(SQLValue.text) ?? .null, node.output.map(SQLValue.blob) ?? .null,
            .int(Int64(node.countedAttempts)), .int(Int64(node.crashedAttempts)), .int(node.attemptOpen ? 1 : 0),
        ]
    }

    fileprivate func updateNode(_ key: WorkflowKey, _ position: Int, _ node: NodeState) throws {
        try run(
            """
            UPDATE nodes SET status = ?, attempts = ?, started_at = ?, ended_at = ?, last_error = ?, output = ?,
                counted = ?, crashed = ?, open = ? WHERE tenant = ? AND id = ? AND position = ?
            """, Self.nodeValues(node) + [.text(key.tenant), .text(key.id), .int(Int64(position))])
    }

    fileprivate func writeData(_ key: WorkflowKey, _ name: String, _ value: Data?) throws {
        if let value {
            try run(
                "INSERT INTO data (tenant, id, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                [.text(key.tenant), .text(key.id), .text(name), .blob(value)])
        } else {
            try run("DELETE FROM data WHERE tenant = ? AND id = ? AND key = ?", [.text(key.tenant), .text(key.id), .text(name)])
        }
    }

    /// Updates the workflow row, refusing (`staleWriter`) when a later writer raised the epoch.
    fileprivate func updateWorkflow(_ state: WorkflowState, epoch: UInt64) throws {
        try run(
            """
            UPDATE workflows SET stored = 1, format_version = ?, fingerprint = ?, status = ?, created_at = ?, updated_at = ?,
                last_sequence = ?, input = ?, definition = ?, reason = ?, recoveries = ?
            WHERE tenant = ? AND id = ? AND epoch = ?
            """,
            [
                .int(Int64(state.formatVersion)), .text(state.fingerprint), .int(Int64(state.status.rawValue)),
                .real(state.createdAt), .real(state.updatedAt), .int(Int64(bitPattern: state.lastSequence)), .blob(state.input),
                state.definition.map(SQLValue.blob) ?? .null, state.reason.map(SQLValue.text) ?? .null,
                .int(Int64(state.recoveries)), .text(state.tenant), .text(state.id), .int(Int64(epoch)),
            ])
        guard sqlite3_changes(database) == 1 else {
            throw FlowError(.staleWriter, "workflow \(state.tenant)/\(state.id): writer of epoch \(epoch) was fenced off; nothing was written")
        }
    }

    private func read(_ key: WorkflowKey) throws -> WorkflowState {
        let keyValues = [SQLValue.text(key.tenant), .text(key.id)]
        var found: WorkflowState?
        try rows(
            """
            SELECT format_version, fingerprint, status, created_at, updated_at, last_sequence, input, definition, reason, recoveries
            FROM workflows WHERE tenant = ? AND id = ? AND stored = 1
            """, keyValues
        ) { row in
            guard let status = WorkflowStatus(rawValue: UInt8(truncatingIfNeeded: row.int(2))) else {
                throw FlowError(.corruptData, "sqlite: workflow \(key) has unknown status \(row.int(2))")
            }
            var state = WorkflowState(
                id: key.id, tenant: key.tenant, fingerprint: row.text(1) ?? "", nodeNames: [], input: row.blob(6) ?? Data(),
                definition: row.blob(7), createdAt: row.date(3))
            state.formatVersion = UInt32(truncatingIfNeeded: row.int(0))
            state.status = status
            state.updatedAt = row.date(4) ?? state.createdAt
            state.lastSequence = UInt64(bitPattern: row.int(5))
            state.reason = row.text(8)
            state.recoveries = UInt32(truncatingIfNeeded: row.int(9))
            found = state
        }
        guard var state = found else { throw FlowError(.notFound, "workflow \(key) not found") }
        try rows(
            """
            SELECT name, status, attempts, started_at, ended_at, last_error, output, counted, crashed, open
            FROM nodes WHERE tenant = ? AND id = ? ORDER BY position
            """, keyValues
        ) { row in
            let name = row.text(0) ?? ""
            guard let status = NodeStatus(rawValue: UInt8(truncatingIfNeeded: row.int(1))) else {
                throw FlowError(.corruptData, "sqlite: node \(name) of \(key) has unknown status \(row.int(1))")
            }
            let node = NodeState(
                name: name, status: status, attempts: UInt32(truncatingIfNeeded: row.int(2)), startedAt: row.date(3),
                endedAt: row.date(4), lastError: row.text(5), output: row.blob(6))
            state.nodes.append(
                try NodeRebuild.node(
                    node, counted: UInt32(truncatingIfNeeded: row.int(7)), crashed: UInt32(truncatingIfNeeded: row.int(8)),
                    open: row.int(9) != 0))
        }
        try rows("SELECT key, value FROM data WHERE tenant = ? AND id = ?", keyValues) { row in
            state.data[row.text(0) ?? ""] = row.blob(1) ?? Data()
        }
        return state
    }

    // MARK: SQLite calls (on `queue` only)

    fileprivate func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    fileprivate func transaction(_ durability: Durability, _ body: () throws -> Void) throws {
        if synchronous != durability {
            try execute(durability == .fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")
            synchronous = durability
        }
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Syncs the WAL file: what earlier `synchronous=NORMAL` commits wrote becomes durable.
    fileprivate func syncWAL() throws {
        let descriptor = open(path + "-wal", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return }  // no WAL: nothing unsynced
        defer { close(descriptor) }
        guard fdatasync(descriptor) == 0 else {
            throw FlowError(.io, "sqlite: fdatasync of \(path)-wal failed: \(String(cString: strerror(errno)))")
        }
    }

    private func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(database, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw FlowError(.io, "sqlite: \(text) in \(sql.prefix(60))")
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw FlowError(.io, "sqlite: cannot prepare \(sql.prefix(60)): \(String(cString: sqlite3_errmsg(database)))")
        }
        statements[sql] = statement
        return statement
    }

    private func bind(_ statement: OpaquePointer, _ values: [SQLValue]) {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let slot = Int32(offset + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, slot)
            case .int(let number): sqlite3_bind_int64(statement, slot, number)
            case .real(let date):
                if let date { sqlite3_bind_double(statement, slot, date.timeIntervalSinceReferenceDate) } else { sqlite3_bind_null(statement, slot) }
            case .text(let text): sqlite3_bind_text(statement, slot, text, -1, transient)
            case .blob(let data):
                // A zero-length blob, not NULL: an empty output is not an absent one.
                _ = data.withUnsafeBytes { bytes in
                    bytes.isEmpty
                        ? sqlite3_bind_zeroblob(statement, slot, 0)
                        : sqlite3_bind_blob(statement, slot, bytes.baseAddress, Int32(bytes.count), transient)
                }
            }
        }
    }

    fileprivate func run(_ sql: String, _ values: [SQLValue]) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        bind(statement, values)
        let result = sqlite3_step(statement)
        guard result == SQLITE_DONE || result == SQLITE_ROW else {
            throw FlowError(.io, "sqlite: \(String(cString: sqlite3_errmsg(database))) in \(sql.prefix(60))")
        }
    }

    fileprivate func rows(_ sql: String, _ values: [SQLValue], _ each: (Row) throws -> Void) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        bind(statement, values)
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else {
                throw FlowError(.io, "sqlite: \(String(cString: sqlite3_errmsg(database))) in \(sql.prefix(60))")
            }
            try each(Row(statement: statement))
        }
    }

    fileprivate enum SQLValue {
        case null
        case int(Int64)
        case real(Date?)
        case text(String)
        case blob(Data)
    }

    fileprivate struct Row {
        let statement: OpaquePointer

        func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

        func text(_ column: Int32) -> String? {
            guard sqlite3_column_type(statement, column) != SQLITE_NULL, let text = sqlite3_column_text(statement, column) else {
                return nil
            }
            return String(cString: text)
        }

        func blob(_ column: Int32) -> Data? {
            guard sqlite3_column_type(statement, column) != SQLITE_NULL else { return nil }
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return Data() }
            return Data(bytes: bytes, count: count)
        }

        func date(_ column: Int32) -> Date? {
            guard sqlite3_column_type(statement, column) != SQLITE_NULL else { return nil }
            return Date(timeIntervalSinceReferenceDate: sqlite3_column_double(statement, column))
        }
    }
}
