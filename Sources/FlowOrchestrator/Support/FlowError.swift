/// The one error type the library throws.
///
/// `code` says what kind of problem it is, `message` names what is wrong (the workflow, the node,
/// the file and offset, a cycle's path), `cause` carries the underlying error when there is one.
/// New codes can be added without breaking callers: `Code` is a struct, not an enum.
public struct FlowError: Error, Sendable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Wrapped: Hashable, Sendable {
            case invalidName, duplicateNode, missingDependency, cycle, unknownNode
            case notFound, alreadyExists, fingerprintMismatch, payloadTooLarge
            case invalidID, corruptData, unsupportedFormat, io, locked
            case persistenceFailed, invalidArgument, invalidDefinition, timeout, writerStopped
            case historyUnavailable
            case decodingFailed
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
        /// A workflow input or node output is not the JSON of the type it was read as; the
        /// message names the node (or the input), the type and where decoding stopped.
        public static let decodingFailed = Code(.decodingFailed)

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
            case .decodingFailed: "decoding failed"
            }
        }
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, naming the objects involved.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?
    /// Where the error was raised, for bug reports.
    public var file: String
    /// Where the error was raised, for bug reports.
    public var line: Int

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}

extension Error {
    /// The error as a ``FlowError``; other errors become `io` errors carrying them as cause.
    var asFlowError: FlowError {
        (self as? FlowError) ?? FlowError(.io, String(describing: self), cause: self)
    }
}
