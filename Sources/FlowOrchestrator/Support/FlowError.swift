#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one error type the library throws.
///
/// `code` says what kind of problem it is, `message` names what is wrong (the workflow, the node,
/// the file and offset, a cycle's path), `cause` carries the underlying error when there is one.
/// The same context is kept in fields a program can test (`path`, `offset`, `workflow`, `node`,
/// and ``systemCallError`` for the failed system call), so no caller has to parse the text.
/// New codes can be added without breaking callers: `Code` is a struct, not an enum.
public struct FlowError: Error, Sendable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Wrapped: Hashable, Sendable {
            case invalidName, duplicateNode, missingDependency, cycle, unknownNode
            case notFound, alreadyExists, fingerprintMismatch, payloadTooLarge
            case invalidID, corruptData, unsupportedFormat, io, locked
            case persistenceFailed, invalidArgument, invalidDefinition, timeout, writerStopped
            case historyUnavailable, staleWriter, newerFormat, cancelled
        }
        fileprivate var wrapped: Wrapped
        fileprivate init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A node or workflow name that breaks the naming rules.
        public static let invalidName = Code(.invalidName)
        /// Two nodes with the same name.
        public static let duplicateNode = Code(.duplicateNode)
        /// A node depends on a node the DAG does not have.
        public static let missingDependency = Code(.missingDependency)
        /// The dependencies form a cycle; the message holds its path.
        public static let cycle = Code(.cycle)
        /// A call named a node the workflow does not have.
        public static let unknownNode = Code(.unknownNode)
        /// No workflow with that ID is stored.
        public static let notFound = Code(.notFound)
        /// A workflow with that ID already exists where a new one was expected.
        public static let alreadyExists = Code(.alreadyExists)
        /// The stored state was written for a different DAG.
        public static let fingerprintMismatch = Code(.fingerprintMismatch)
        /// An input, output or data value is over its configured limit.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// A tenant or workflow ID that could name a path outside the store.
        public static let invalidID = Code(.invalidID)
        /// A stored file is corrupt or truncated.
        public static let corruptData = Code(.corruptData)
        /// A stored file was written by a format this version cannot read.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// The operating system refused an I/O call (disk full, permissions, ...).
        public static let io = Code(.io)
        /// Another process holds the workflow's writer lock.
        public static let locked = Code(.locked)
        /// A state change could not be made durable; the run stopped.
        public static let persistenceFailed = Code(.persistenceFailed)
        /// A caller passed a value outside what the call accepts.
        public static let invalidArgument = Code(.invalidArgument)
        /// A workflow definition file is malformed.
        public static let invalidDefinition = Code(.invalidDefinition)
        /// A node ran past its timeout.
        public static let timeout = Code(.timeout)
        /// The workflow's writer stopped after an earlier persistence failure.
        public static let writerStopped = Code(.writerStopped)
        /// Events asked for are not recorded: the workflow was not run with the `node` strategy,
        /// or compaction folded them away with `keepHistory` off.
        public static let historyUnavailable = Code(.historyUnavailable)
        /// A write came through a writer that a later ``WorkflowStore/acquireWriter(_:)`` fenced
        /// off (its epoch is older than the stored one); nothing was written.
        public static let staleWriter = Code(.staleWriter)
        /// A stored file holds a value this version does not know (a status or event kind added
        /// by a newer version): upgrade to read it. The file is left as it is.
        public static let newerFormat = Code(.newerFormat)
        /// The workflow was cancelled by request, which is final: reset it to run it again.
        public static let cancelled = Code(.cancelled)

        public var description: String {
            switch wrapped {
            case .invalidName: "invalid name"
            case .duplicateNode: "duplicate node"
            case .missingDependency: "missing dependency"
            case .cycle: "cycle"
            case .unknownNode: "unknown node"
            case .notFound: "not found"
            case .alreadyExists: "already exists"
            case .fingerprintMismatch: "fingerprint mismatch"
            case .payloadTooLarge: "payload too large"
            case .invalidID: "invalid id"
            case .corruptData: "corrupt data"
            case .unsupportedFormat: "unsupported format"
            case .io: "i/o error"
            case .locked: "locked"
            case .persistenceFailed: "persistence failed"
            case .invalidArgument: "invalid argument"
            case .invalidDefinition: "invalid definition"
            case .timeout: "timeout"
            case .writerStopped: "writer stopped"
            case .historyUnavailable: "history unavailable"
            case .staleWriter: "stale writer"
            case .newerFormat: "newer format"
            case .cancelled: "cancelled"
            }
        }
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, naming the objects involved. It already says what any cause it was built
    /// from said; ``description`` adds a cause's text only when the message lacks it.
    public var message: String
    /// The underlying error, if any: another `FlowError`, a ``SystemCallError``, or whatever
    /// a caller's action threw.
    public var cause: (any Error)?
    /// The file the error is about, when there is one.
    public var path: String?
    /// The byte offset in ``path`` where the problem is (a damaged journal frame), when known.
    public var offset: Int64?
    /// The workflow the error is about, when there is one.
    public var workflow: WorkflowKey?
    /// The node the error is about, when there is one.
    public var node: String?
    /// Where the error was raised, for bug reports.
    public var file: String
    /// Where the error was raised, for bug reports.
    public var line: Int

    /// Creates an error. Context left nil (path, offset, workflow, node) is taken from `cause`
    /// when that is a `FlowError`, so wrapping an error keeps what it knew.
    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil,
        path: String? = nil, offset: Int64? = nil, workflow: WorkflowKey? = nil, node: String? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        let inner = cause as? FlowError
        self.path = path ?? inner?.path
        self.offset = offset ?? inner?.offset
        self.workflow = workflow ?? inner?.workflow
        self.node = node ?? inner?.node
        self.file = file
        self.line = line
    }

    /// The failed system call at the bottom of the causes, if there is one: test
    /// `error.systemCallError?.isNoSpace` for a full disk instead of reading the message.
    public var systemCallError: SystemCallError? {
        var next = cause
        while let current = next {
            if let call = current as? SystemCallError { return call }
            if let errno = current as? Errno { return SystemCallError(systemCall: "", errno: errno.code) }
            next = (current as? FlowError)?.cause
        }
        return nil
    }

    /// The message, then each cause's text that the message does not already hold, each once.
    public var description: String {
        var text = message
        var next = cause
        while let current = next {
            let said: String
            let shown: String
            switch current {
            case let inner as FlowError:
                (said, shown, next) = (inner.message, inner.message, inner.cause)
            case let call as SystemCallError:
                (said, shown, next) = (call.reason, call.description, nil)
            default:
                let whole = String(describing: current)
                (said, shown, next) = (whole, whole, nil)
            }
            if !said.isEmpty, !text.contains(said) { text += " (\(shown))" }
        }
        return text
    }
}

/// A system call that failed: its name and the `errno` it set. The bottom cause of an `io`
/// ``FlowError``; compare ``errno`` with the C constants (`ENOSPC`, `EACCES`, ...).
public struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call that failed: `open`, `pwrite`, `fdatasync`, `rename`, ...; empty when unknown.
    public var systemCall: String
    /// The error number the call set.
    public var errno: Int32

    /// Creates the error of `systemCall` failing with `errno`.
    public init(systemCall: String, errno: Int32) {
        self.systemCall = systemCall
        self.errno = errno
    }

    /// The disk (or the quota) is full: `ENOSPC` or `EDQUOT`.
    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    /// The file or directory does not exist: `ENOENT`.
    public var isNotFound: Bool { errno == ENOENT }

    /// The system's text for the error number and the number: `No space left on device (errno 28)`.
    public var reason: String { Errno(code: errno).description }

    /// `pwrite: No space left on device (errno 28)`.
    public var description: String { systemCall.isEmpty ? reason : "\(systemCall): \(reason)" }
}

extension Error {
    /// The error as a ``FlowError``; other errors become `io` errors carrying them as cause.
    var asFlowError: FlowError {
        (self as? FlowError) ?? FlowError(.io, String(describing: self), cause: self)
    }
}
