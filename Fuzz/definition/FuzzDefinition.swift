// libFuzzer target: flowctl's definition-file parser (YAML, and JSON read as YAML).
//
// The input is the file's bytes. The parser's sources are compiled into this binary from
// Sources/flowctl (see scripts/fuzz.sh), so this is the code `flowctl run FILE` runs.
//
// Findings (abort): a crash, hang or sanitizer report; a definition accepted that breaks what
// WorkflowDefinition promises (a valid ID, valid unique node names, known dependencies listed
// once, no cycle, attempts >= 1, positive timeouts, valid environment names); an error message
// that is not one line.
import FlowOrchestrator
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDefinition(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(UnsafeBufferPointer(start: $0, count: size)) } ?? Data()
    let definition: WorkflowDefinition
    do {
        definition = try DefinitionParser(origin: "fuzz.yaml").parse(bytes, defaultID: "fuzz")
    } catch {
        let line = error.description
        if line.contains("\n") || !line.hasPrefix("fuzz.yaml") {
            definitionFinding("the error is not one line naming the file: \(line)")
        }
        return 0
    }
    checkDefinition(definition, source: bytes)
    return 0
}

func definitionFinding(_ message: String) -> Never {
    FileHandle.standardError.write(Data("FINDING: \(message)\n".utf8))
    abort()
}

func checkDefinition(_ definition: WorkflowDefinition, source: Data) {
    if definition.source != source { definitionFinding("the definition does not keep its source bytes") }
    if (try? WorkflowKey(id: definition.id)) == nil { definitionFinding("accepted ID \(definition.id.debugDescription)") }
    if let concurrency = definition.concurrency, concurrency < 1 { definitionFinding("concurrency \(concurrency)") }
    if definition.nodes.isEmpty { definitionFinding("accepted a definition without nodes") }
    let names = definition.nodes.map(\.name)
    if Set(names).count != names.count { definitionFinding("duplicate node names in \(names)") }
    for node in definition.nodes {
        if let problem = Names.problem(with: node.name) { definitionFinding("node name \(node.name.debugDescription) \(problem)") }
        if node.run.allSatisfy({ $0 == " " || $0 == "\t" || $0.isNewline }) { definitionFinding("empty run in \(node.name)") }
        if Set(node.needs).count != node.needs.count { definitionFinding("repeated needs in \(node.name)") }
        for need in node.needs where !names.contains(need) { definitionFinding("\(node.name) needs unknown \(need)") }
        if node.attempts < 1 { definitionFinding("attempts \(node.attempts) in \(node.name)") }
        if let timeout = node.timeout, timeout <= .zero { definitionFinding("timeout \(timeout) in \(node.name)") }
        if let backoff = node.backoff, backoff < .zero { definitionFinding("backoff \(backoff) in \(node.name)") }
        for entry in node.env where !EnvironmentName.isValid(entry.name) { definitionFinding("env name \(entry.name)") }
        if let cwd = node.cwd, cwd.isEmpty { definitionFinding("empty cwd in \(node.name)") }
    }
    // What `flowctl run` does next: build the DAG. It must accept what the parser accepted.
    do {
        let dag = try DAG(nodes: definition.nodes.map { DAG.Node($0.name, dependsOn: $0.needs) { _ in .empty } })
        if dag.nodeNames != names { definitionFinding("the DAG reorders nodes: \(dag.nodeNames) vs \(names)") }
        _ = dag.levels()
    } catch {
        definitionFinding("the parser accepted a definition the DAG refuses: \(error)")
    }
}
