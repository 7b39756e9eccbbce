import Foundation

/// The recorded state of one node.
public struct NodeState: Sendable, Equatable, Codable {
    /// The node's name, unique in its workflow.
    public var name: String
    /// Where the node stands.
    public var status: NodeStatus
    /// How many times the node was started, over all runs. A start cut short by a crash counts
    /// when its record was made durable before the crash (see docs/adr/0002).
    public var attempts: UInt32
    /// When the latest attempt started.
    public var startedAt: Date?
    /// When the node last reached an end state.
    public var endedAt: Date?
    /// The error of the latest failed attempt.
    public var lastError: String?
    /// What the node returned; nil until it completes. An empty output is not the same as none.
    ///
    /// A loaded snapshot keeps its nodes' outputs in one shared buffer and makes a `Data` only
    /// when this is read; each read returns a fresh copy, so read it once where it is used often.
    public var output: Data? {
        get { storedOutput.data }
        set { storedOutput = NodeOutputBytes(newValue) }
    }

    /// The output as stored (see ``output``).
    var storedOutput: NodeOutputBytes = .none

    /// Attempts counted against the node's retry budget (``RetryPolicy/maxAttempts``) since it
    /// was last reset or completed: every attempt the store recorded as started, including
    /// those a crash cut short, less those an interrupt cut short (given back).
    public internal(set) var countedAttempts: UInt32 = 0
    /// Of the ``countedAttempts``, how many a crash cut short (the node was found running with
    /// its attempt open when a later run recovered the workflow).
    public internal(set) var crashedAttempts: UInt32 = 0
    /// Whether the latest attempt has started and not ended: a node found running with an open
    /// attempt was cut short by a crash; one between attempts (waiting to retry) was not.
    public internal(set) var attemptOpen = false

    /// Whether any of the retry-budget fields is set (snapshots store them only then).
    var hasBudgetInUse: Bool { countedAttempts != 0 || crashedAttempts != 0 || attemptOpen }

    /// Starts a fresh retry budget (at completion and reset).
    mutating func resetBudget() {
        countedAttempts = 0
        crashedAttempts = 0
        attemptOpen = false
    }

    /// A pending node that has never run.
    public init(name: String) {
        self.name = name
        self.status = .pending
        self.attempts = 0
    }

    /// A node state with every field given.
    public init(
        name: String, status: NodeStatus, attempts: UInt32, startedAt: Date?, endedAt: Date?,
        lastError: String?, output: Data?
    ) {
        self.init(
            name: name, status: status, attempts: attempts, startedAt: startedAt, endedAt: endedAt,
            lastError: lastError, storedOutput: NodeOutputBytes(output))
    }

    /// A node state whose output is stored as given (a slice of a shared buffer).
    init(
        name: String, status: NodeStatus, attempts: UInt32, startedAt: Date?, endedAt: Date?,
        lastError: String?, storedOutput: NodeOutputBytes
    ) {
        self.name = name
        self.status = status
        self.attempts = attempts
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.lastError = lastError
        self.storedOutput = storedOutput
    }

    public static func == (a: NodeState, b: NodeState) -> Bool {
        a.name == b.name && a.status == b.status && a.attempts == b.attempts && a.startedAt == b.startedAt
            && a.endedAt == b.endedAt && a.lastError == b.lastError && a.storedOutput == b.storedOutput
            && a.countedAttempts == b.countedAttempts && a.crashedAttempts == b.crashedAttempts
            && a.attemptOpen == b.attemptOpen
    }

    private enum CodingKeys: String, CodingKey {
        case name, status, attempts, startedAt, endedAt, lastError, output
        case countedAttempts, crashedAttempts, attemptOpen
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        status = try container.decode(NodeStatus.self, forKey: .status)
        attempts = try container.decode(UInt32.self, forKey: .attempts)
        startedAt = try container.decodeIfPresent(Date.self, forKey: .startedAt)
        endedAt = try container.decodeIfPresent(Date.self, forKey: .endedAt)
        lastError = try container.decodeIfPresent(String.self, forKey: .lastError)
        output = try container.decodeIfPresent(Data.self, forKey: .output)
        countedAttempts = try container.decodeIfPresent(UInt32.self, forKey: .countedAttempts) ?? 0
        crashedAttempts = try container.decodeIfPresent(UInt32.self, forKey: .crashedAttempts) ?? 0
        attemptOpen = try container.decodeIfPresent(Bool.self, forKey: .attemptOpen) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(status, forKey: .status)
        try container.encode(attempts, forKey: .attempts)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(endedAt, forKey: .endedAt)
        try container.encodeIfPresent(lastError, forKey: .lastError)
        try container.encodeIfPresent(output, forKey: .output)
        if countedAttempts != 0 { try container.encode(countedAttempts, forKey: .countedAttempts) }
        if crashedAttempts != 0 { try container.encode(crashedAttempts, forKey: .crashedAttempts) }
        if attemptOpen { try container.encode(attemptOpen, forKey: .attemptOpen) }
    }
}

/// Where a node's output bytes are: nowhere (no output), in a `Data`, or in a range of a buffer
/// shared by the outputs of many nodes (as a snapshot is loaded: one allocation instead of one
/// per node).
enum NodeOutputBytes: Sendable, Equatable {
    case none
    case data(Data)
    case shared(SharedBytes, offset: Int, count: Int)

    init(_ data: Data?) {
        self = data.map { .data($0) } ?? .none
    }

    /// The bytes as a new `Data`; nil for none.
    var data: Data? {
        switch self {
        case .none: nil
        case .data(let data): data
        case .shared(let buffer, let offset, let count): Data(bytes: buffer.start + offset, count: count)
        }
    }

    /// Calls `body` with the bytes, nil for none; copies nothing.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer?) throws -> Result) rethrows -> Result {
        switch self {
        case .none: try body(nil)
        case .data(let data): try data.withUnsafeBytes { try body($0) }
        case .shared(let buffer, let offset, let count):
            try withExtendedLifetime(buffer) { try body(UnsafeRawBufferPointer(start: buffer.start + offset, count: count)) }
        }
    }

    /// The number of bytes; nil for none.
    var count: Int? {
        switch self {
        case .none: nil
        case .data(let data): data.count
        case .shared(_, _, let count): count
        }
    }

    static func == (a: NodeOutputBytes, b: NodeOutputBytes) -> Bool {
        a.withBytes { x in
            b.withBytes { y in
                guard let x, let y else { return x == nil && y == nil }
                return x.count == y.count && (x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }
    }
}

/// Immutable bytes shared by many outputs; freed with the last of them.
final class SharedBytes: @unchecked Sendable {
    let start: UnsafeMutableRawPointer
    let count: Int

    /// `count` uninitialized bytes, to be written before the first output refers to them.
    init(count: Int) {
        self.count = count
        start = .allocate(byteCount: max(count, 1), alignment: 8)
    }

    deinit { start.deallocate() }
}
