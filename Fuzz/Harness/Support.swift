import Dispatch
import Foundation
import Glibc
import Synchronization

@testable import FlowOrchestrator

/// Runs an async call to completion from synchronous code (libFuzzer calls its entry point on
/// an ordinary thread) and returns or rethrows what it produced.
///
/// The result is moved out of the task, never copied: a copy left in the task's context lives on
/// after `done.signal()` until the task ends, which may be after this input. libFuzzer then sees
/// more allocations than frees and runs LeakSanitizer, which takes every live `Data` of more than
/// 14 bytes for a leak (Swift keeps its storage pointer with enum tag bits set, which LSan does not
/// recognize as a pointer): a false finding (see docs/adversarial.md).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        var outcome: Result<T, any Error>?
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        result.withLock { $0 = outcome.take() }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0.take()! }.get()
}

/// Stops the fuzzer with a finding: a wrong answer is as much a bug as a crash.
func finding(_ message: String) -> Never {
    FileHandle.standardError.write(Data("FINDING: \(message)\n".utf8))
    abort()
}

/// The error a load of untrusted bytes may throw: a `FlowError` saying the data is bad or from a
/// newer format (a status or kind past the ones this code knows), nothing else (no I/O error
/// from an in-memory file system, no foreign error type, no crash).
func expectDataError(_ error: any Error, _ what: String) -> FlowError {
    guard let error = error as? FlowError else { finding("\(what): threw a non-FlowError: \(error)") }
    guard [.corruptData, .unsupportedFormat, .newerFormat].contains(error.code) else {
        finding("\(what): threw \(error.code), expected corruptData, unsupportedFormat or newerFormat: \(error)")
    }
    return error
}

/// Real directories for the stores a harness opens, on tmpfs when there is one: the stores run
/// their real file code (the system file layer, `access`, `flock`), and a tmpfs keeps it fast.
/// Removed when the process exits.
enum Scratch {
    static let base: String = {
        let parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        // libFuzzer often ends with _Exit (no atexit handlers), and a finding aborts: sweep the
        // directories of harness processes that are gone before making this one's.
        let io = FileIO(layer: SystemFileLayer())
        for name in (try? io.list(parent)) ?? [] where name.hasPrefix("flow-fuzz-") {
            if let pid = pid_t(name.dropFirst("flow-fuzz-".count)), kill(pid, 0) != 0, errno == ESRCH {
                _ = try? io.removeTree("\(parent)/\(name)")
            }
        }
        let path = "\(parent)/flow-fuzz-\(getpid())"
        mkdir(path, 0o755)
        atexit { _ = try? FileIO(layer: SystemFileLayer()).removeTree(Scratch.base) }
        return path
    }()

    /// An empty store root called `name`, holding exactly `files` (paths relative to it).
    static func root(_ name: String, files: [(String, [UInt8])] = []) -> String {
        let root = "\(base)/\(name)"
        let io = FileIO(layer: SystemFileLayer())
        do {
            try io.removeTree(root)
            for (path, bytes) in files {
                try io.makeDirectories(FileIO.parent(of: "\(root)/\(path)"), durability: .buffered)
                try bytes.withUnsafeBytes { try io.writeTemporary("\(root)/\(path)", bytes: $0, durability: .buffered) }
            }
        } catch {
            finding("cannot prepare \(root): \(error)")
        }
        return root
    }

    /// The number of open file descriptors: a leak shows up as growth across one input. (The
    /// concurrency runtime opens a few on first use; that happens before the first count.)
    static var openDescriptors: Int {
        _ = warmUp
        return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    private static let warmUp: Void = {
        for _ in 0..<4 { _ = try? blocking { try await Task.sleep(for: .microseconds(10)) } }
    }()
}

/// The workflow every harness stores: `ROOT/default/wf`.
enum Fixture {
    static let key = try! WorkflowKey(tenant: "default", id: "wf")
    /// Where its files go, relative to a store's root.
    static let directory = "default/wf"
    static let nodeNames = ["fetch", "parse", "count", "publish", "notify"]
    static let time = Date(microsecondsSince1970: 1_700_000_000_123_456)

    /// Store options for fuzzing: small caps so a frame that declares a huge size is refused
    /// quickly instead of allocating a gigabyte per input.
    static func options(salvage: Bool = false, compactAfterRecords: Int = 200_000) -> FlatBuffersStore.Options {
        FlatBuffersStore.Options(
            compressionLevel: 1, maxSnapshotBytes: 4 << 20, compactAfterRecords: compactAfterRecords,
            maxJournalBytes: 4 << 20, salvage: salvage)
    }

    /// A small state with every kind of field set: nodes in each status, outputs (absent, empty,
    /// binary), errors, data, input and definition; the first `count` fixture events applied
    /// (all of them by default), so its last sequence number is `count`.
    static func state(through count: Int = Int.max) -> WorkflowState {
        var state = WorkflowState(
            id: key.id, tenant: key.tenant, fingerprint: "fp-1", nodeNames: nodeNames,
            input: Data("{\"n\":1}".utf8), definition: Data("id: wf\n".utf8), createdAt: time)
        for event in events(after: 0).prefix(count) { try! state.apply(event) }
        return state
    }

    /// Events that drive the fixture's nodes through every status.
    static func events(after sequence: UInt64) -> [WorkflowEvent] {
        var next = sequence
        func event(_ change: WorkflowEvent.Change, _ node: Int = -1) -> WorkflowEvent {
            next += 1
            return WorkflowEvent(
                sequence: next, time: time.addingTimeInterval(Double(next)), change: change, nodeIndex: Int32(node))
        }
        return [
            event(.workflowStarted(status: .running)),
            event(.nodeStarted(node: nodeNames[0], attempt: 1), 0),
            event(.nodeCompleted(node: nodeNames[0], output: Data([0, 1, 2, 0xFF])), 0),
            event(.nodeStarted(node: nodeNames[1], attempt: 1), 1),
            event(.nodeRetried(node: nodeNames[1], attempt: 0, delay: .microseconds(200_000), error: "exit 1"), 1),
            event(.nodeStarted(node: nodeNames[1], attempt: 2), 1),
            event(.nodeFailed(node: nodeNames[1], attempt: nil, error: "exit 2: naïve ☃"), 1),
            event(.nodeSkipped(node: nodeNames[2], reason: "dependency parse failed"), 2),
            event(.dataSet(key: "rows", value: Data("42".utf8))),
            event(.dataSet(key: "", value: Data())),
            event(.nodeStarted(node: nodeNames[3], attempt: 1), 3),
            event(.nodeCancelled(node: nodeNames[3]), 3),
            event(.nodeMarkedCompleted(node: nodeNames[4], output: Data()), 4),
            event(.nodeReset(node: nodeNames[1]), 1),
            event(.workflowFinished(status: .failed, reason: nil)),
        ]
    }
}

/// The fields in which two states differ, with exact values (a `Date`'s description rounds to
/// seconds and fails for far-away years).
func difference(_ a: WorkflowState, _ b: WorkflowState) -> String {
    func exact(_ date: Date?) -> String {
        guard let date else { return "nil" }
        return "\(date.timeIntervalSinceReferenceDate) (bits \(date.timeIntervalSinceReferenceDate.bitPattern))"
    }
    var lines: [String] = []
    func compare<T: Equatable>(_ name: String, _ x: T, _ y: T, _ show: (T) -> String = { "\($0)" }) {
        if x != y { lines.append("\(name): \(show(x)) != \(show(y))") }
    }
    compare("formatVersion", a.formatVersion, b.formatVersion)
    compare("id", a.id, b.id)
    compare("tenant", a.tenant, b.tenant)
    compare("fingerprint", a.fingerprint, b.fingerprint)
    compare("status", a.status, b.status)
    compare("createdAt", a.createdAt, b.createdAt, exact)
    compare("updatedAt", a.updatedAt, b.updatedAt, exact)
    compare("lastSequence", a.lastSequence, b.lastSequence)
    compare("input", a.input, b.input)
    compare("definition", a.definition, b.definition)
    compare("data", a.data, b.data)
    compare("node count", a.nodes.count, b.nodes.count)
    for (index, (x, y)) in zip(a.nodes, b.nodes).enumerated() {
        compare("node \(index) name", x.name, y.name)
        compare("node \(index) status", x.status, y.status)
        compare("node \(index) attempts", x.attempts, y.attempts)
        compare("node \(index) startedAt", x.startedAt, y.startedAt, exact)
        compare("node \(index) endedAt", x.endedAt, y.endedAt, exact)
        compare("node \(index) lastError", x.lastError, y.lastError)
        compare("node \(index) output", x.output, y.output)
    }
    return lines.isEmpty ? "(no field differs)" : lines.joined(separator: "\n")
}
