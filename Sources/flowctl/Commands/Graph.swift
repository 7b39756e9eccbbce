import ArgumentParser
import FlowOrchestrator
import Foundation

/// `flowctl graph ID|FILE`: draws the workflow as DOT, Mermaid or PNG.
struct Graph: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a stored workflow (nodes coloured by status) or a definition file.",
        discussion: "PNG needs Graphviz's `dot` on PATH. DOT and Mermaid go to stdout unless --output is given.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case dot, mermaid, png
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A workflow ID, or a definition file (.yaml, .yml, .json).", valueName: "id-or-file"))
    var target: String

    @Option(name: .long, help: "dot, mermaid or png.")
    var format: Format = .dot

    @Option(name: [.short, .long], help: ArgumentHelp("Write here instead of stdout (png: default ID.png).", valueName: "file"))
    var output: String?

    func run() async throws {
        let render: GraphRender
        if Self.looksLikeFile(target) {
            let definition = try DefinitionParser.parse(file: target)
            render = GraphRender(title: definition.id, nodes: definition.nodes, statuses: [:])
        } else {
            let store = try global.openStore()
            let state = try await store.load(try global.key(target))
            let nodes = try StoredShape.nodes(state)
            var statuses: [String: NodeStatus] = [:]
            for node in state.nodes { statuses[node.name] = node.status }
            render = GraphRender(title: state.id, nodes: nodes, statuses: statuses)
        }
        switch format {
        case .dot: try emit(render.dot())
        case .mermaid: try emit(render.mermaid())
        case .png: try png(render)
        }
    }

    /// A target names a file when it exists as one or has a definition file's extension.
    private static func looksLikeFile(_ target: String) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), !isDirectory.boolValue { return true }
        return [".yaml", ".yml", ".json"].contains { target.lowercased().hasSuffix($0) }
    }

    private func emit(_ text: String) throws {
        guard let output else { return Terminal.out(text) }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output))
        } catch {
            throw CLIError(.storeOrData, "cannot write \(output): \(SystemError.describe(error))")
        }
    }

    private func png(_ render: GraphRender) throws {
        guard let dot = Self.findOnPath("dot") else {
            throw CLIError(
                .usage,
                "--format png needs Graphviz's `dot` on PATH (apt-get install graphviz); --format dot or mermaid work without it")
        }
        let destination = output ?? "\(render.title).png"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dot)
        process.arguments = ["-Tpng", "-o", destination]
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw CLIError(.storeOrData, "cannot start \(dot): \(SystemError.describe(error))")
        }
        input.fileHandleForWriting.write(Data(render.dot().utf8))
        try? input.fileHandleForWriting.close()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError(.storeOrData, "dot failed (exit \(process.terminationStatus)): \(TextFormat.oneLine(message))")
        }
        if !global.quiet { Terminal.out("wrote \(destination)\n") }
    }

    /// The first executable called `name` in `$PATH`.
    static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
