import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the file stores share: the directory layout `ROOT/TENANT/WORKFLOW_ID/`, atomic snapshot
/// replacement, the writer lock, listing from summaries, retention, stats, verification and
/// multi-workflow transactions. The snapshot encoding is the ``SnapshotFormat``'s business.
final class FileStoreEngine: Sendable {
    let root: String
    let io: FileIO
    let format: any SnapshotFormat
    /// The largest snapshot file read.
    let maxFileBytes: Int
    /// Bounds the writers holding their lock file open at once.
    let writerSlots: WriterSlots

    private static let transactionDirectory = ".txn"

    init(
        root: String, format: any SnapshotFormat, layer: any FileLayer, maxFileBytes: Int,
        maxWriters: Int = WriterSlots.defaultCount()
    ) throws {
        self.writerSlots = WriterSlots(count: maxWriters)
        self.root = Self.absolute(root)
        self.io = FileIO(layer: layer)
        self.format = format
        self.maxFileBytes = maxFileBytes
        try io.makeDirectories(self.root, durability: .fsync)
        try recoverTransactions()
        emptyTrash()
    }

    /// `path` made absolute against the working directory, without a trailing slash.
    static func absolute(_ path: String) -> String {
        var path = path
        if !path.hasPrefix("/") {
            let cwd = FileManager.default.currentDirectoryPath
            path = path == "." ? cwd : "\(cwd)/\(path.hasPrefix("./") ? String(path.dropFirst(2)) : path)"
        }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    func directory(_ key: WorkflowKey) -> String { "\(root)/\(key.tenant)/\(key.id)" }

    // MARK: Snapshots

    /// Writes `state`'s snapshot, then its summary, each atomically.
    func save(_ state: WorkflowState, durability: Durability) throws {
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        let directory = directory(key)
        try io.makeDirectories(directory, durability: durability)
        let (snapshot, name) = try format.encode(state)
        try snapshot.withUnsafeBytes { bytes in
            try io.replaceAtomically("\(directory)/\(name)", with: bytes, durability: durability)
        }
        for other in format.snapshotFileNames where other != name {
            try io.remove("\(directory)/\(other)")
        }
        try writeSummary(WorkflowSummary(state, storedBytes: snapshot.count), in: directory, durability: durability)
    }

    /// Writes a new workflow's first snapshot and summary with the fewest syncs a crash allows:
    /// the snapshot's data, the workflow directory once for both names, and (made by this call)
    /// the directory's entry in its parent. The summary is not synced: it is a cache, and one a
    /// power loss took or left empty is read from the snapshot instead (``summary(_:)``) until
    /// the workflow's writer rewrites it. Durable on return when `durability` is `fsync`.
    /// `extraFiles` (the store's own, such as a journal) are written the way the snapshot is.
    func create(
        _ state: WorkflowState, durability: Durability, extraFiles: [(name: String, bytes: [UInt8])] = []
    ) throws {
        let key = try WorkflowKey(tenant: state.tenant, id: state.id)
        let directory = directory(key)
        try io.makeDirectories(directory, durability: durability)
        let (snapshot, name) = try format.encode(state)
        let path = "\(directory)/\(name)"
        let temporary = FileIO.temporaryName(for: path)
        try snapshot.withUnsafeBytes { try io.writeTemporary(temporary, bytes: $0, durability: .fsync) }
        try io.rename(temporary, to: path)
        for other in format.snapshotFileNames where other != name {
            try io.remove("\(directory)/\(other)")
        }
        for file in extraFiles {
            let path = "\(directory)/\(file.name)"
            let temporary = FileIO.temporaryName(for: path)
            try file.bytes.withUnsafeBytes { try io.writeTemporary(temporary, bytes: $0, durability: .fsync) }
            try io.rename(temporary, to: path)
        }
        let summaryPath = "\(directory)/\(format.summaryFileName)"
        let summaryTemporary = FileIO.temporaryName(for: summaryPath)
        let summary = try format.encodeSummary(WorkflowSummary(state, storedBytes: snapshot.count))
        try summary.withUnsafeBytes { try io.writeTemporary(summaryTemporary, bytes: $0, durability: .buffered) }
        try io.rename(summaryTemporary, to: summaryPath)
        if durability == .fsync { try io.syncDirectory(directory) }
    }

    func writeSummary(_ summary: WorkflowSummary, in directory: String, durability: Durability) throws {
        let bytes = try format.encodeSummary(summary)
        try bytes.withUnsafeBytes { bytes in
            try io.replaceAtomically("\(directory)/\(format.summaryFileName)", with: bytes, durability: durability)
        }
    }

    /// The snapshot of `key`, with the path it came from; nil when none is stored.
    func loadSnapshot(_ key: WorkflowKey) throws -> (state: WorkflowState, path: String, bytes: Int)? {
        let directory = directory(key)
        for name in format.snapshotFileNames {
            let path = "\(directory)/\(name)"
            guard let buffer = try io.readFile(path, limit: maxFileBytes) else { continue }
            let state = try format.decode(buffer, path: path)
                .validated(path: path, nodeNamesChecked: format.checksNodeNames)
            guard state.id == key.id, state.tenant == key.tenant else {
                throw FlowError(.corruptData, "\(path): holds workflow \(state.tenant)/\(state.id), not \(key)")
            }
            return (state, path, buffer.count)
        }
        return nil
    }

    func load(_ key: WorkflowKey) throws -> WorkflowState {
        guard let (state, _, _) = try loadSnapshot(key) else {
            throw FlowError(.notFound, "workflow \(key) not found in \(root)")
        }
        return state
    }

    func exists(_ key: WorkflowKey) -> Bool {
        format.snapshotFileNames.contains { io.exists("\(directory(key))/\($0)") }
    }

    // MARK: Listing

    /// The summary of `key`: from its summary file, or from its snapshot when the summary is
    /// missing or unreadable. Nil when neither can be read.
    func summary(_ key: WorkflowKey) -> WorkflowSummary? {
        let directory = directory(key)
        let path = "\(directory)/\(format.summaryFileName)"
        if let buffer = try? io.readFile(path, limit: 1 << 20),
            let summary = try? format.decodeSummary(buffer, path: path),
            summary.id == key.id, summary.tenant == key.tenant
        {
            return summary
        }
        guard let (state, _, bytes) = try? loadSnapshot(key) else { return nil }
        return WorkflowSummary(state, storedBytes: bytes)
    }

    /// The keys in the store, in (tenant, ID) order, optionally of one tenant only.
    func keys(tenant: String? = nil) throws -> [WorkflowKey] {
        let tenants = try tenant.map { [$0] } ?? io.list(root)
        var keys: [WorkflowKey] = []
        for tenant in tenants where Names.problem(with: tenant) == nil && io.isDirectory("\(root)/\(tenant)") {
            for id in try io.list("\(root)/\(tenant)") where Names.problem(with: id) == nil {
                let key = WorkflowKey(uncheckedTenant: tenant, id: id)
                if io.isDirectory(directory(key)) { keys.append(key) }
            }
        }
        return keys
    }

    /// One page of summaries. Keys before the cursor are passed over without reading anything;
    /// workflows whose files cannot be read are left out here and reported by ``verify()``.
    func list(_ query: WorkflowQuery) throws -> WorkflowPage {
        var items: [WorkflowSummary] = []
        for key in try keys(tenant: query.tenant) where query.isAfterCursor(key) {
            guard let summary = summary(key), query.matches(summary) else { continue }
            if items.count == query.limit {
                return WorkflowPage(items: items, nextCursor: WorkflowQuery.cursor(after: WorkflowKey.unchecked(items[items.count - 1])))
            }
            items.append(summary)
        }
        return WorkflowPage(items: items, nextCursor: nil)
    }

    // MARK: Removal and retention

    /// Takes `key`'s writer lock, then removes what writers that died left in its directory
    /// (temporary and staged files): with the lock held, no one else is writing there.
    func acquireWriter(
        _ key: WorkflowKey, ignoringHolder: Bool = false, onRelease: (@Sendable () -> Void)? = nil
    ) throws -> WriterLock {
        let lock = try WriterLock.acquire(
            directory: directory(key), key: key, io: io, ignoringHolder: ignoringHolder, onRelease: onRelease)
        for name in (try? io.list(directory(key))) ?? [] where name.contains(".tmp-") || name.contains(".txn-") {
            try? io.remove("\(directory(key))/\(name)")
        }
        return lock
    }

    /// ``acquireWriter(_:ignoringHolder:onRelease:)`` once one of the writer slots is free (it
    /// waits for one), on the I/O threads; the slot is given back when the writer is released.
    func acquireWriterInSlot(_ key: WorkflowKey) async throws -> WriterLock {
        await writerSlots.acquire()
        do {
            let slots = writerSlots
            return try await IOThreadPool.shared.run { try self.acquireWriter(key, onRelease: { slots.release() }) }
        } catch {
            writerSlots.release()
            throw error
        }
    }

    /// Removes `key`'s workflow; refuses while another writer holds it.
    func delete(_ key: WorkflowKey) throws {
        guard exists(key) else { throw FlowError(.notFound, "workflow \(key) not found in \(root)") }
        let lock = try WriterLock.acquire(directory: directory(key), key: key, io: io)
        defer { lock.releaseNow() }
        try removeLocked(key)
    }

    private static let trashDirectory = ".trash"

    /// Removes `key`'s directory; the caller holds its writer lock. The directory is first
    /// renamed into `ROOT/.trash` (one atomic step, synced), so a crash mid-removal can never
    /// leave a workflow with some of its files gone: it is there whole, or not at all.
    func removeLocked(_ key: WorkflowKey) throws {
        let trash = "\(root)/\(Self.trashDirectory)"
        try io.makeDirectories(trash, durability: .fsync)
        let doomed = "\(trash)/\(key.tenant)~\(key.id)~\(UInt64.random(in: 0...UInt64.max))"
        try io.rename(directory(key), to: doomed)
        try io.syncDirectory("\(root)/\(key.tenant)")
        try io.syncDirectory(trash)
        try io.removeTree(doomed)
    }

    /// Finishes removals a crash interrupted.
    private func emptyTrash() {
        let trash = "\(root)/\(Self.trashDirectory)"
        for name in (try? io.list(trash)) ?? [] {
            try? io.removeTree("\(trash)/\(name)")
        }
    }

    /// Deletes finished workflows last changed before `cutoff`; returns their keys. Candidates
    /// come from the summaries; each is confirmed under its writer lock from its full state
    /// (`loadState`), so a stale summary never deletes a workflow with work left. Workflows
    /// whose writer is active are left alone.
    func purge(
        finishedBefore cutoff: Date, tenant: String?, loadState: (WorkflowKey) throws -> WorkflowState
    ) throws -> [WorkflowKey] {
        var removed: [WorkflowKey] = []
        for key in try keys(tenant: tenant) {
            guard let summary = summary(key), summary.status.isFinished, summary.updatedAt < cutoff else { continue }
            let lock: WriterLock
            do {
                lock = try WriterLock.acquire(directory: directory(key), key: key, io: io)
            } catch let error as FlowError where error.code == .locked {
                continue
            }
            defer { lock.releaseNow() }
            guard let state = try? loadState(key), state.status.isFinished, state.updatedAt < cutoff else { continue }
            try removeLocked(key)
            removed.append(key)
        }
        return removed
    }

    // MARK: Stats and verification

    func stats() throws -> StoreStats {
        var stats = StoreStats()
        var tenants = Set<String>()
        for key in try keys() {
            guard let summary = summary(key) else {
                stats.unreadable += 1
                continue
            }
            tenants.insert(key.tenant)
            stats.workflows += 1
            stats.nodes += summary.nodeCount
            stats.workflowsByStatus[summary.status, default: 0] += 1
            for name in try io.list(directory(key)) {
                stats.bytes += (try? io.fileSize("\(directory(key))/\(name)")) ?? 0
            }
        }
        stats.tenants = tenants.count
        return stats
    }

    /// Reads every file of every workflow and reports each problem with its file (and offset,
    /// in the message, where the format can tell). `extra` checks a workflow's other files.
    func verify(extra: (WorkflowKey, String) -> [StoreProblem] = { _, _ in [] }) throws -> [StoreProblem] {
        var problems: [StoreProblem] = []
        for tenant in try io.list(root) where tenant != Self.transactionDirectory && tenant != Self.trashDirectory {
            if let problem = Names.problem(with: tenant) {
                problems.append(StoreProblem(path: "\(root)/\(tenant)", message: "tenant directory name \(problem)"))
            }
        }
        for name in try io.list("\(root)/\(Self.transactionDirectory)") where name != "lock" {
            problems.append(
                StoreProblem(path: "\(root)/\(Self.transactionDirectory)/\(name)", message: "unfinished transaction"))
        }
        for key in try keys() {
            let directory = directory(key)
            let names = try io.list(directory)
            let isLeftover = { (name: String) in name.contains(".tmp-") || name.hasSuffix(".tmp") || name.contains(".txn-") }
            for name in names where isLeftover(name) {
                problems.append(StoreProblem(path: "\(directory)/\(name)", message: "leftover temporary file"))
            }
            var hasSnapshot = false
            do {
                hasSnapshot = try loadSnapshot(key) != nil
            } catch {
                hasSnapshot = true
                problems.append(StoreProblem(error: error.asFlowError))
            }
            // A writer killed before its first snapshot was durable leaves only its lock and a
            // temporary file: the workflow was never stored, nothing is missing.
            if !hasSnapshot, names.contains(where: { $0 != "lock" && $0 != "logs" && !isLeftover($0) }) {
                problems.append(StoreProblem(path: directory, message: "no snapshot"))
            }
            let summaryPath = "\(directory)/\(format.summaryFileName)"
            do {
                if let buffer = try io.readFile(summaryPath, limit: 1 << 20) {
                    _ = try format.decodeSummary(buffer, path: summaryPath)
                }
            } catch {
                problems.append(StoreProblem(error: error.asFlowError))
            }
            problems += extra(key, directory)
        }
        return problems
    }

    // MARK: Transactions

    /// Saves every state or none, even across a crash, taking the workflows' writer locks (and
    /// so raising their epochs) itself: `locked` if one is held, including by the caller. See
    /// ``saveAll(_:durability:extraFiles:)`` for the steps.
    func transact(_ states: [WorkflowState], durability: Durability, hooks: TransactionHooks = TransactionHooks()) throws {
        let keys = try states.map { try WorkflowKey(tenant: $0.tenant, id: $0.id) }
        guard Set(keys).count == keys.count else {
            throw FlowError(.invalidArgument, "a transaction saves one of \(keys.map(\.description)) twice")
        }
        var locks: [WriterLock] = []
        defer { locks.forEach { $0.releaseNow() } }
        for key in keys.sorted() {
            locks.append(try WriterLock.acquire(directory: directory(key), key: key, io: io))
        }
        try hooks.check(states)
        try hooks.prepare(keys)
        try saveAll(states, durability: durability, extraFiles: hooks.extraFiles)
    }

    /// Saves every state or none: each snapshot and summary (and the `extraFiles` the store adds,
    /// such as an empty journal) is written to a temporary file and synced, the directories are
    /// synced, then an intent record naming every rename is made durable, then the renames run.
    /// A crash before the intent is durable leaves the old states; after it, opening the store
    /// finishes the renames. Transactions of one store directory run one at a time (an `flock`
    /// on `.txn/lock`, across processes). The caller holds the workflows' writer locks.
    func saveAll(
        _ states: [WorkflowState], durability: Durability,
        extraFiles: (WorkflowState) throws -> [(name: String, bytes: [UInt8])] = { _ in [] }
    ) throws {
        let transaction = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        var renames: [[String]] = []
        var keys = Set<WorkflowKey>()
        for state in states {
            let key = try WorkflowKey(tenant: state.tenant, id: state.id)
            guard keys.insert(key).inserted else {
                throw FlowError(.invalidArgument, "transaction saves workflow \(key) twice")
            }
        }
        let intentDirectory = "\(root)/\(Self.transactionDirectory)"
        try io.makeDirectories(intentDirectory, durability: .fsync)
        let lock = try transactionLock(blocking: true)
        defer { lock.map(releaseTransactionLock) }
        do {
            for state in states {
                let key = try WorkflowKey(tenant: state.tenant, id: state.id)
                let directory = directory(key)
                try io.makeDirectories(directory, durability: .fsync)
                let (snapshot, name) = try format.encode(state)
                let summary = try format.encodeSummary(WorkflowSummary(state, storedBytes: snapshot.count))
                let files = [(name, snapshot), (format.summaryFileName, summary)] + (try extraFiles(state)).map { ($0.name, $0.bytes) }
                for (target, bytes) in files {
                    let temporary = "\(directory)/\(target).txn-\(transaction)"
                    try bytes.withUnsafeBytes { bytes in
                        try io.writeTemporary(temporary, bytes: bytes, durability: .fsync)
                    }
                    renames.append([temporary, "\(directory)/\(target)"])
                }
                for other in format.snapshotFileNames where other != name {
                    renames.append(["", "\(directory)/\(other)"])
                }
                // The staged files' names must survive a power loss before the intent does.
                try io.syncDirectory(directory)
            }
        } catch {
            for rename in renames where !rename[0].isEmpty { try? io.remove(rename[0]) }
            throw error
        }
        let intentPath = "\(intentDirectory)/\(transaction).json"
        let intent: [UInt8]
        do {
            intent = Array(try JSONEncoder().encode(renames))
        } catch {
            throw FlowError(.io, "\(intentPath): cannot encode the transaction intent: \(error)")
        }
        try intent.withUnsafeBytes { bytes in
            try io.replaceAtomically(intentPath, with: bytes, durability: .fsync)
        }
        try apply(renames)
        try io.remove(intentPath)
        if durability == .fsync { try io.syncDirectory(intentDirectory) }
    }

    /// The `flock` of `.txn/lock`; nil when not blocking and another process holds it.
    private func transactionLock(blocking: Bool) throws -> Int32? {
        let path = "\(root)/\(Self.transactionDirectory)/lock"
        let fd = try io.open(path, O_RDWR | O_CREAT)
        switch FileIO.retrying({ io.layer.flock(fd, blocking ? LOCK_EX : LOCK_EX | LOCK_NB) }) {
        case .success:
            return fd
        case .failure(let errno):
            io.close(fd)
            if errno == .wouldBlock { return nil }
            throw FileIO.ioError("locking", path, errno, call: "flock")
        }
    }

    private func releaseTransactionLock(_ fd: Int32) {
        _ = io.layer.flock(fd, LOCK_UN)
        io.close(fd)
    }

    private func apply(_ renames: [[String]]) throws {
        var directories = Set<String>()
        for rename in renames where rename.count == 2 {
            if rename[0].isEmpty {
                try io.remove(rename[1])
            } else if io.exists(rename[0]) {
                try io.rename(rename[0], to: rename[1])
            }
            directories.insert(FileIO.parent(of: rename[1]))
        }
        for directory in directories.sorted() { try io.syncDirectory(directory) }
    }

    /// Whether `path` is a file a transaction may write: `ROOT/TENANT/ID/NAME` with valid IDs
    /// and a name the store uses (staged copies included).
    private func isTransactionPath(_ path: String) -> Bool {
        guard path.hasPrefix(root + "/") else { return false }
        let parts = path.dropFirst(root.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, Names.isValid(String(parts[0])), Names.isValid(String(parts[1])) else { return false }
        let name = parts[2].split(separator: ".txn-", maxSplits: 1).first.map(String.init) ?? ""
        return format.snapshotFileNames.contains(name) || name == format.summaryFileName || name == "journal.log"
    }

    /// Finishes transactions whose intent became durable before a crash. Skipped while another
    /// process holds the transaction lock (it is finishing its own).
    private func recoverTransactions() throws {
        let intentDirectory = "\(root)/\(Self.transactionDirectory)"
        guard io.isDirectory(intentDirectory) else { return }
        guard let lock = try transactionLock(blocking: false) else { return }
        defer { releaseTransactionLock(lock) }
        for name in try io.list(intentDirectory) where name != "lock" {
            let path = "\(intentDirectory)/\(name)"
            if name.contains(".tmp") {
                try io.remove(path)  // an intent never made durable: the transaction did not happen
                continue
            }
            guard let buffer = try io.readFile(path, limit: 64 << 20),
                let renames = try? JSONDecoder().decode([[String]].self, from: Data(buffer.bytes))
            else {
                throw FlowError(.corruptData, "\(path): unreadable transaction intent; remove it by hand to open the store")
            }
            for rename in renames {
                guard rename.count == 2, rename.allSatisfy({ $0.isEmpty || isTransactionPath($0) }) else {
                    throw FlowError(.corruptData, "\(path): transaction intent names a path that is not a store file")
                }
            }
            try apply(renames)
            try io.remove(path)
        }
    }
}

/// Counts over a whole store.
public struct StoreStats: Sendable, Equatable {
    /// Workflows stored.
    public var workflows = 0
    /// Tenants with at least one workflow.
    public var tenants = 0
    /// Nodes over all workflows.
    public var nodes = 0
    /// Workflows per status.
    public var workflowsByStatus: [WorkflowStatus: Int] = [:]
    /// Bytes of every file of every workflow.
    public var bytes = 0
    /// Workflows whose files could not be read (see `verify`).
    public var unreadable = 0
    /// Torn or corrupt journal tails cut when workflows were opened by this store object.
    public var journalTailsCut = 0
}

/// One problem `verify` found.
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file (or directory) with the problem.
    public var path: String
    /// What is wrong, with the byte offset where the format can tell.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    init(error: FlowError) {
        // File errors start with the path they concern.
        if error.message.hasPrefix("/"), let colon = error.message.range(of: ": ") {
            path = String(error.message[..<colon.lowerBound])
            message = String(error.message[colon.upperBound...])
        } else {
            path = ""
            message = error.message
        }
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
