import ArgumentParser

@main
struct FlowCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowctl",
        abstract: "Run, inspect and repair durable workflows.")
}
