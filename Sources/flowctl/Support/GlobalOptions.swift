import ArgumentParser
import FlowOrchestrator
import Foundation

/// Options every command takes: where the store is and how to write to it.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store directory (default: $FLOW_STORE, else ./.flow).", valueName: "dir"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp("The tenant (default: \(WorkflowKey.defaultTenant)).", valueName: "id"))
    var tenant: String?

    @Option(name: .long, help: "How hard writes try to survive power loss: fsync or buffered.")
    var durability: Durability = ExecutionOptions().durability

    @Option(name: .long, help: "When state is written: end, level or node (every status change).")
    var persist: PersistenceStrategy = ExecutionOptions().persistence

    @Flag(name: .shortAndLong, help: "Print only the final line.")
    var quiet = false

    /// `arguments` with the global options written before the subcommand (`flowctl --store X run
    /// FILE`) moved after its name, where each command declares them; the rest is unchanged.
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if valued.contains(name) {
                leading.append(argument)
                if !argument.contains("="), index + 1 < arguments.count {
                    leading.append(arguments[index + 1])
                    index += 1
                }
            } else if flags.contains(argument) {
                leading.append(argument)
            } else {
                break
            }
            index += 1
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    /// The global options that take a value, and those that do not.
    private static let valued: Set<String> = ["--store", "--tenant", "--durability", "--persist"]
    private static let flags: Set<String> = ["--quiet", "-q"]

    /// The store directory to use.
    var storeDirectory: String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["FLOW_STORE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return ".flow"
    }

    /// The library's default execution options with `--persist` and `--durability` applied.
    var executionOptions: ExecutionOptions {
        var options = ExecutionOptions()
        options.persistence = persist
        options.durability = durability
        return options
    }

    /// The tenant to use for commands about one workflow.
    var effectiveTenant: String { tenant ?? WorkflowKey.defaultTenant }

    func validate() throws {
        if let tenant, let problem = Names.problem(with: tenant) {
            throw ValidationError("tenant \(TextFormat.quoted(tenant)) \(problem)")
        }
    }

    /// Opens the store: the one place that picks the store type.
    func openStore() throws -> FlatBuffersStore {
        do {
            return try FlatBuffersStore(directory: storeDirectory)
        } catch {
            throw CLIError(.storeOrData, "cannot open store \(storeDirectory): \(SystemError.describe(error))")
        }
    }

    /// The key of workflow `id` in the chosen tenant; a bad ID is a usage error.
    func key(_ id: String) throws -> WorkflowKey {
        do {
            return try WorkflowKey(tenant: effectiveTenant, id: id)
        } catch {
            throw CLIError(.usage, error.message)
        }
    }
}

extension Durability: ExpressibleByArgument {}
extension PersistenceStrategy: ExpressibleByArgument {}
