import FlowOrchestrator
import Foundation

/// flowctl's exit codes: the contract scripts rely on.
enum ExitStatus: Int32 {
    /// The command did what was asked; `run` and `resume`: the workflow completed.
    case success = 0
    /// `run` and `resume`: the workflow failed.
    case workflowFailed = 1
    /// A bad command line or a bad definition file.
    case usage = 2
    /// The store or the data in it: not found, locked, corrupt, unreadable, unwritable.
    case storeOrData = 3
    /// `wait --timeout`: the time passed before the workflow ended.
    case timedOut = 4
    /// `wait`: the workflow was cancelled by request.
    case cancelled = 5
    /// Interrupted by SIGINT or SIGTERM.
    case interrupted = 130
}

/// An error flowctl reports as one line and an exit code.
struct CLIError: Error, CustomStringConvertible {
    var status: ExitStatus
    var message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }

    /// The exit code and one-line message for any error a command lets escape.
    static func classify(_ error: any Error) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as DefinitionError:
            return CLIError(.usage, error.description)
        case let error as FlowError where DamageHint.isSalvageable(error):
            let text = error.description + DamageHint.hint(forJournal: error.path ?? "")
            return CLIError(.storeOrData, TextFormat.oneLine(text, limit: 2000))
        case let error as FlowError:
            return CLIError(status(for: error.code), TextFormat.oneLine(error.description, limit: 2000))
        default:
            return CLIError(.storeOrData, TextFormat.oneLine(SystemError.describe(error), limit: 2000))
        }
    }

    /// Library error codes by exit status: what the user typed, or what is stored.
    private static func status(for code: FlowError.Code) -> ExitStatus {
        switch code {
        case .invalidName, .duplicateNode, .missingDependency, .cycle, .invalidDefinition,
            .unknownNode, .invalidID, .invalidArgument:
            .usage
        default:
            .storeOrData
        }
    }
}

/// Descriptions of system and Foundation errors without their Objective-C noise.
enum SystemError {
    static func describe(_ error: any Error) -> String {
        if let error = error as? FlowError { return error.description }
        if let error = error as? CLIError { return error.message }
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(nsError.code))) }
        return String(describing: error)
    }

    /// The text of `errno` value `code`.
    static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Whole-file reads with errors that name the cause (`No such file or directory`).
enum FileBytes {
    /// The bytes of the file at `path`, up to `limit`.
    static func read(_ path: String, limit: Int = 64 << 20) throws(CLIError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError(.usage, SystemError.text(errno)) }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = Foundation.read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw CLIError(.usage, SystemError.text(errno)) }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if data.count > limit { throw CLIError(.usage, "larger than \(TextFormat.bytes(limit))") }
        }
    }
}
