import ArgumentParser
import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flowctl`: runs workflow definition files and inspects, repairs and draws stored workflows.
///
/// Every error ends as one line on stderr, `flowctl: error: ...`, and an exit code from
/// ``ExitStatus``: 0 success, 1 workflow failed, 2 usage, 3 store or data, 130 interrupted.
@main
struct FlowCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowctl",
        abstract: "Run, inspect and repair durable workflows.",
        discussion: """
            Exit codes: 0 success, 1 workflow failed, 2 usage or bad definition file, \
            3 store or data error (an unknown workflow ID included), 4 `wait --timeout` passed first, \
            5 cancelled by request, 130 interrupted.
            """,
        subcommands: [
            Run.self, Resume.self, Status.self, List.self, Show.self, Output.self, History.self, Watch.self,
            Reset.self, Salvage.self, Graph.self, Verify.self, GC.self, Dump.self, Bench.self,
            Submit.self, Worker.self, Wait.self, Cancel.self, Queue.self, Schedule.self,
        ])

    /// Parses the command line, runs the command and maps every error to one line and an exit code.
    static func main() async {
        // A closed stdout (`flowctl list | head`) must be an EPIPE, not a silent death.
        signal(SIGPIPE, SIG_IGN)
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Terminal.out(fullMessage(for: error) + "\n")
                terminate(0)
            }
            let message = TextFormat.oneLine(message(for: error), limit: 2000)
            Terminal.error("flowctl: error: \(message)")
            terminate(ExitStatus.usage.rawValue)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
        } catch let code as ExitCode {
            terminate(code.rawValue)
        } catch {
            // `--help` and `help COMMAND` reach here: ArgumentParser's help command throws its
            // help request from `run()`.
            if exitCode(for: error) == .success {
                Terminal.out(fullMessage(for: error) + "\n")
                terminate(0)
            }
            let failure = CLIError.classify(error)
            Terminal.error("flowctl: error: \(failure.message)")
            terminate(failure.status.rawValue)
        }
        terminate(0)
    }
}

/// Ends the process with `code` (`exit` inside a command type means ArgumentParser's method).
func terminate(_ code: Int32) -> Never {
    exit(code)
}

extension ExitStatus {
    /// Ends the command with this status.
    var exitCode: ExitCode { ExitCode(rawValue) }
}
