import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The runtime's records as files under a ``FlatBuffersStore``'s directory (docs/adr/0011):
///
/// - `ROOT/TENANT/ID/run.json`: the run record, created with `link` (so at most once) and synced;
/// - `ROOT/TENANT/ID/cancel-request`: a cancel request, created the same way;
/// - `ROOT/.runtime/queues/QUEUE/ready/TENANT/ENTRY`: one empty file per queued or claimed,
///   unfinished workflow, named so that name order is claim order (``QueueEntry``);
/// - `ROOT/.runtime/queues/QUEUE/config.json`: the queue's limits, replaced atomically;
/// - `ROOT/.runtime/queues/QUEUE/slots/K.lock`: the global concurrency slots (`flock`);
/// - `ROOT/.runtime/queues/QUEUE/starts` under `queue.lock`: recent start times (rate limit).
///
/// Every call runs on the store's I/O threads.
public struct FileRuntimeStore: RuntimeStore {
    /// The store of the workflows.
    public let store: FlatBuffersStore
    public var workflows: any WorkflowStore { store }
    private var io: FileIO { store.engine.io }

    /// The runtime's records for `store`; nothing is written until a call needs it.
    public init(store: FlatBuffersStore) {
        self.store = store
    }

    /// `ROOT/.runtime`.
    public var root: String { store.directory + "/.runtime" }

    private func queueDirectory(_ queue: String) -> String { "\(root)/queues/\(queue)" }
    private func readyDirectory(_ queue: String, tenant: String) -> String { "\(queueDirectory(queue))/ready/\(tenant)" }
    private func entryPath(_ entry: QueueEntry) -> String {
        "\(readyDirectory(entry.queue, tenant: entry.key.tenant))/\(entry.fileName)"
    }
    private func runRecordPath(_ key: WorkflowKey) -> String { store.directory(for: key) + "/run.json" }
    private func cancelPath(_ key: WorkflowKey) -> String { store.directory(for: key) + "/cancel-request" }

    private func onIO<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await IOThreadPool.shared.run(work)
    }

    // MARK: Run records

    public func runRecord(_ key: WorkflowKey) async throws -> RunRecord? {
        try await onIO { try readRunRecord(key) }
    }

    private func readRunRecord(_ key: WorkflowKey) throws -> RunRecord? {
        let path = runRecordPath(key)
        guard let bytes = try io.readFile(path, limit: 64 << 10) else { return nil }
        do {
            return try JSONDecoder().decode(RunRecord.self, from: Data(bytes.bytes))
        } catch {
            throw FlowError(.corruptData, "run record \(path) cannot be read: \(error)", path: path)
        }
    }

    public func createRunRecord(_ record: RunRecord, for key: WorkflowKey) async throws -> RunRecord? {
        try await onIO {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let bytes = try encoder.encode(record) + Data("\n".utf8)
            guard try createOnce(runRecordPath(key), bytes: bytes) else { return try readRunRecord(key) }
            return nil
        }
    }

    /// Creates `path` with `bytes` unless it exists, durably (file and directory synced); false
    /// when it existed. The temporary file lives in `.runtime/tmp`, never in the workflow's
    /// directory, where a writer's clean-up removes temporary files.
    private func createOnce(_ path: String, bytes: Data) throws -> Bool {
        let directory = FileIO.parent(of: path)
        try io.makeDirectories(directory, durability: .fsync)
        try io.makeDirectories(root + "/tmp", durability: .fsync)
        let temporary = FileIO.temporaryName(for: root + "/tmp/create")
        try bytes.withUnsafeBytes { try io.writeTemporary(temporary, bytes: $0, durability: .fsync) }
        defer { try? io.remove(temporary) }
        switch FileIO.retrying({ io.layer.link(temporary, path) }) {
        case .success:
            try io.syncDirectory(directory)
            return true
        case .failure(let errno) where errno == .exists:
            return false
        case .failure(let errno):
            throw FileIO.ioError("creating", path, errno, call: "link")
        }
    }

    // MARK: Queue entries

    public func enqueue(_ entry: QueueEntry) async throws {
        try await onIO {
            let path = entryPath(entry)
            let directory = FileIO.parent(of: path)
            try io.makeDirectories(directory, durability: .fsync)
            if io.exists(path) { return }
            let fd = try io.open(path, O_WRONLY | O_CREAT)
            io.close(fd)
            try io.syncDirectory(directory)
        }
    }

    public func dequeue(_ entry: QueueEntry) async throws {
        try await onIO { try io.remove(entryPath(entry)) }
    }

    public func isQueued(_ entry: QueueEntry) async throws -> Bool {
        try await onIO { io.exists(entryPath(entry)) }
    }

    public func queueNames() async throws -> [String] {
        try await onIO { try io.list(root + "/queues").filter { Names.problem(with: $0) == nil } }
    }

    public func entries(in queue: String) async throws -> [QueueEntry] {
        try await onIO {
            let ready = queueDirectory(queue) + "/ready"
            var entries: [QueueEntry] = []
            for tenant in try io.list(ready) where Names.problem(with: tenant) == nil {
                for name in try io.list(ready + "/" + tenant) {
                    if let entry = QueueEntry(queue: queue, tenant: tenant, fileName: name) { entries.append(entry) }
                }
            }
            return entries.sorted()
        }
    }

    // MARK: Queue configuration, slots, rate

    public func queueConfig(_ queue: String) async throws -> QueueConfig {
        try await onIO {
            let path = queueDirectory(queue) + "/config.json"
            guard let bytes = try io.readFile(path, limit: 64 << 10) else { return QueueConfig() }
            do {
                return try JSONDecoder().decode(QueueConfig.self, from: Data(bytes.bytes))
            } catch {
                throw FlowError(.corruptData, "queue configuration \(path) cannot be read: \(error)", path: path)
            }
        }
    }

    public func setQueueConfig(_ config: QueueConfig, for queue: String) async throws {
        try Names.validate(queue, as: "queue name", code: .invalidName)
        try await onIO {
            let directory = queueDirectory(queue)
            try io.makeDirectories(directory, durability: .fsync)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let bytes = try encoder.encode(config) + Data("\n".utf8)
            try bytes.withUnsafeBytes { try io.replaceAtomically(directory + "/config.json", with: $0, durability: .fsync) }
        }
    }

    public func claimSlot(queue: String, limit: Int) async throws -> (any RuntimeSlot)? {
        try await onIO {
            let directory = queueDirectory(queue) + "/slots"
            try io.makeDirectories(directory, durability: .buffered)
            for index in 0..<min(limit, QueueConfig.maxLimit) {
                let path = "\(directory)/\(index).lock"
                let fd = try io.open(path, O_RDWR | O_CREAT)
                if case .success = FileIO.retrying({ io.layer.flock(fd, LOCK_EX | LOCK_NB) }) {
                    return FileSlot(fd: fd, io: io)
                }
                io.close(fd)
            }
            return nil
        }
    }

    public func reserveStart(queue: String, count: Int, period: Duration, now: Date) async throws -> Date? {
        try await onIO {
            let directory = queueDirectory(queue)
            try io.makeDirectories(directory, durability: .buffered)
            let lockFD = try io.open(directory + "/queue.lock", O_RDWR | O_CREAT)
            defer { io.close(lockFD) }
            // A short critical section shared by every process on the store.
            guard case .success = FileIO.retrying({ io.layer.flock(lockFD, LOCK_EX) }) else {
                throw FlowError(.io, "locking \(directory)/queue.lock failed", path: directory + "/queue.lock")
            }
            defer { _ = io.layer.flock(lockFD, LOCK_UN) }
            let path = directory + "/starts"
            let nowMicros = now.microsecondsSince1970
            let windowStart = nowMicros - period.microseconds
            var starts: [Int64] = []
            if let bytes = try io.readFile(path, limit: 16 << 20) {
                // One start per line; a line a crash cut short is dropped.
                starts = String(decoding: bytes.bytes, as: UTF8.self).split(separator: "\n")
                    .compactMap { Int64($0) }.filter { $0 > windowStart && $0 <= nowMicros + 60_000_000 }
            }
            starts.sort()
            if starts.count >= count {
                return Date(microsecondsSince1970: starts[starts.count - count] + period.microseconds)
            }
            starts.append(nowMicros)
            let text = Data(starts.map(String.init).joined(separator: "\n").utf8) + Data("\n".utf8)
            // Buffered: a power loss may forget recent starts, which at worst lets a few more start.
            try text.withUnsafeBytes { try io.replaceAtomically(path, with: $0, durability: .buffered) }
            return nil
        }
    }

    // MARK: Ownership and cancellation

    public func isOwned(_ key: WorkflowKey) async throws -> Bool {
        try await onIO { isOwnedNow(key) }
    }

    /// A non-blocking `flock` probe of the writer lock, released at once; the epoch is left alone.
    func isOwnedNow(_ key: WorkflowKey) -> Bool {
        let path = store.directory(for: key) + "/lock"
        guard case .success(let fd) = FileIO.retrying({ io.layer.open(path, O_RDWR, 0) }) else { return false }
        defer { io.close(fd) }
        switch FileIO.retrying({ io.layer.flock(fd, LOCK_EX | LOCK_NB) }) {
        case .success:
            _ = io.layer.flock(fd, LOCK_UN)
            return false
        case .failure(let errno):
            return errno == .wouldBlock
        }
    }

    public func requestCancel(_ key: WorkflowKey, reason: String) async throws {
        try await onIO {
            let text = "time \(Date().microsecondsSince1970)\npid \(getpid())\nreason \(reason)\n"
            _ = try createOnce(cancelPath(key), bytes: Data(text.utf8))
        }
    }

    public func cancelRequest(_ key: WorkflowKey) async throws -> String? {
        try await onIO { try readCancelRequest(key) }
    }

    public func cancelRequests(_ keys: [WorkflowKey]) async throws -> [WorkflowKey: String] {
        try await onIO {
            var found: [WorkflowKey: String] = [:]
            for key in keys where access(cancelPath(key), F_OK) == 0 {
                found[key] = try readCancelRequest(key) ?? "cancelled by request"
            }
            return found
        }
    }

    private func readCancelRequest(_ key: WorkflowKey) throws -> String? {
        guard let bytes = try io.readFile(cancelPath(key), limit: 64 << 10) else { return nil }
        let lines = String(decoding: bytes.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard let line = lines.first(where: { $0.hasPrefix("reason ") }) else { return "cancelled by request" }
        return String(line.dropFirst("reason ".count))
    }
}

/// A held slot file: its `flock` is the slot.
final class FileSlot: RuntimeSlot {
    private let fd: Mutex<Int32?>
    private let io: FileIO

    init(fd: Int32, io: FileIO) {
        self.fd = Mutex(fd)
        self.io = io
    }

    func release() {
        let held = fd.withLock { fd in
            defer { fd = nil }
            return fd
        }
        guard let held else { return }
        _ = io.layer.flock(held, LOCK_UN)
        io.close(held)
    }

    deinit { release() }
}
